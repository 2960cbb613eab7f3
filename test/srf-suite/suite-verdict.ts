/**
 * What a passing run of drachtio-srf's integration suite (drachtio-srf 5.0.x, the six files the
 * suite's test/index.js runs against a server) looks like, and the check of a run against it.
 * On the real drachtio-server these files produce exactly these 50 passing assertions.
 */
import type { TapSummary } from './tap-summary.js';

/** The suite files in the order of drachtio-srf's test/index.js (unit tests, utils and docker steps left out). */
export const SUITE_FILES = ['b2b', 'reinvite-tests', 'uac', 'uas', 'proxy', 'refer'] as const;
export type SuiteFile = (typeof SUITE_FILES)[number];

export const EXPECTED_PASSING_ASSERTIONS = 50;

/** Per file: its tape test name and the names of its assertions (repeats are listed as often as they occur). */
export const EXPECTED_TESTS: Readonly<Record<SuiteFile, { test: string; assertions: readonly string[] }>> = {
  b2b: {
    test: 'B2B',
    assertions: [
      'b2b handles PRACK for both UAS and UAC',
      'b2b handles INVITE with late sdp',
      'uas.remote.sdp holds the SDP answer from the A-leg ACK on a 3pcc call',
      'b2b handles 200 OK from B',
      'b2b sets tag on 200 OK',
      'b2b CANCELs B leg when CANCEL is received from A',
      'b2b passes failure',
      'dont pass failure to A if opts.passFailure === false',
      'pass headers from A to B and vice-versa',
      'reject if no contact headers in request',
      'reject if no contact headers in response',
      'can supply headers for response to A',
      'can supply response headers as a function returning an object',
      'pass displayname in From header from A to B',
      'provide opts.localSdpA as a function returning a Promise',
      'provide opts.localSdpA as a function returning a string',
      'Srf#createB2BUA(req, res, {uri}) is valid signature',
      'b2b 3pcc UAS failure does not crash and tears down the B leg',
      'Srf#createB2BUA queues fast requests from B until receiving ACK from A',
    ],
  },
  'reinvite-tests': {
    test: 'reinvite tests',
    assertions: ['res#send of 200 OK supports fnAck'],
  },
  uac: {
    test: 'UAC',
    assertions: [
      'Srf#createUAC sends PRACK when received RSeq',
      'Srf#createUAC follows 3XX redirect when asked',
      'Srf#createUAC returns a Promise that resolves with the uac dialog',
      'Srf#createUAC can take a callback that returns the uac dialog',
      'Srf#createUAC accepts opts.callingNumber',
      'Srf#createUAC accepts opts.callingNumber',
      'Srf#createUAC accepts opts.callingNumber',
      'SipDialog will not send overlapping re-invites',
      'SipDialog will handle authentication on re-invites',
      'Srf#createUAC can handle digest authentication, sending to same server',
      'Srf#createUAC cannot handle digest without authentication',
      'Srf#createUAC can handle digest authentication',
      'Srf#createUAC can handle bye with digest authentication',
      'Srf#request can handle digest authentication',
      'Srf#request returns a Promise',
      'srf.request accepts opts.uri',
      'Srf#request can handle digest authentication with empty realm',
      'Srf#request can be canceled',
      'SipDialog will send SDP with 200 OK to UPDATE',
    ],
  },
  uas: {
    test: 'UAS',
    assertions: [
      'uas reject INVITE with 503',
      'Srf#createUAS returns a promise',
      'Srf#createUAS accepts a callback',
      'Srf#createUAS opts.body is an alias for opts.localSdp',
      'uas dialog created when 200 OK sent',
      'uas dialog destroyed with ACK timeout after 32s',
      'creates a dialog on successful SUBSCRIBE',
      'dialog destroyed on terminated subscription',
    ],
  },
  proxy: {
    test: 'proxy',
    assertions: ['srf.proxyRequest returns a Promise', 'srf.proxyRequest accepts a callback'],
  },
  refer: {
    test: 'REFER tests',
    assertions: ['attended transfer success'],
  },
};

/** Everything wrong with a run, as readable sentences; empty when the run passed. */
export function tapProblems(tap: TapSummary): string[] {
  const problems: string[] = [];
  if (!tap.complete) problems.push('the TAP output is incomplete (no plan or no closing summary: tape was killed or hung)');
  if (tap.passed !== EXPECTED_PASSING_ASSERTIONS) {
    problems.push(`${tap.passed} assertions passed, expected ${EXPECTED_PASSING_ASSERTIONS}`);
  }
  if (tap.failed !== 0) problems.push(`${tap.failed} assertions failed`);
  if (tap.plan && tap.plan.last !== tap.assertions.length) {
    problems.push(`the plan says 1..${tap.plan.last} but ${tap.assertions.length} assertions were printed`);
  }
  if (tap.reported.pass !== undefined && tap.reported.pass !== EXPECTED_PASSING_ASSERTIONS) {
    problems.push(`tape's summary reports ${tap.reported.pass} passing, expected ${EXPECTED_PASSING_ASSERTIONS}`);
  }
  if (tap.reported.fail !== undefined && tap.reported.fail !== 0) {
    problems.push(`tape's summary reports ${tap.reported.fail} failing`);
  }
  for (const file of SUITE_FILES) {
    const expected = EXPECTED_TESTS[file];
    if (!tap.tests.includes(expected.test)) {
      problems.push(`${file}.js: its tape test "${expected.test}" never started`);
      continue;
    }
    const inTest = tap.assertions.filter((assertion) => assertion.test === expected.test);
    for (const failing of inTest.filter((assertion) => !assertion.ok)) {
      problems.push(`${file}.js: not ok ${failing.number} ${failing.name}`);
    }
    const passedNames = inTest.filter((assertion) => assertion.ok).map((assertion) => assertion.name);
    for (const name of new Set(expected.assertions)) {
      const want = expected.assertions.filter((candidate) => candidate === name).length;
      const got = passedNames.filter((candidate) => candidate === name).length;
      if (got < want) problems.push(`${file}.js: "${name}" passed ${got} time(s), expected ${want}`);
    }
  }
  return problems;
}
