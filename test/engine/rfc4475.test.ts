/**
 * RFC 4475 torture messages sent to the running engine over UDP, answered as the RFC says for
 * a UAS fronted by a simple app. The parser-level judgement of every message is in
 * gateway/src/engine/sip/rfc4475.test.ts; here we read what actually comes back off the wire.
 *
 * The app answers INVITE with 486 and REGISTER/OPTIONS/MESSAGE with 200 so "delivered to the
 * app" is visible as those codes. Responses in the set must be dropped silently, and the engine
 * must still answer a valid request afterwards.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { connectApp, request, startEngine, statusOf, udpPeer, type RawPeer, type RunningEngine } from './engine-fixture';

const messages: Record<string, string> = JSON.parse(readFileSync(path.resolve(__dirname, '../../../shared/rfc4475/messages.json'), 'utf8'));

/** Expected status on the wire, or 'none' for messages that must be dropped. */
const EXPECTED: Record<string, number | 'none'> = {
  wsinv: 481, // valid; To tag of a dialog we do not have: 481 (§12.2.2)
  intmeth: 501, // valid; unknown method nobody handles
  esc01: 486, escnull: 200, esc02: 501, lwsdisp: 200, longreq: 486, dblreq: 200, semiuri: 200,
  transports: 200, mpart01: 200,
  unreason: 'none', noreason: 'none', // responses matching no transaction
  badinv01: 400, clerr: 400, ncl: 400, scalar02: 400, scalarlg: 'none', quotbal: 400, ltgtruri: 400,
  lwsruri: 400, lwsstart: 486, trws: 200, escruri: 400, baddate: 486, regbadct: 400, badaspec: 400,
  baddn: 400, badvers: 505, mismatch01: 400, mismatch02: 400, bigcode: 'none',
  badbranch: 400, // §3.2.1: rejected rather than matched with RFC 2543 rules
  insuf: 400, unkscm: 416, novelsc: 416, unksm2: 200,
  bext01: 420, // Require: newfeature1 -> 420 Bad Extension with Unsupported
  invut: 486, // the Content-Type verdict (415) belongs to the app; the engine delivers it
  regaut01: 200, multi01: 400, mcl01: 400, bcast: 'none', zeromf: 200, cparam01: 200, cparam02: 200,
  regescrt: 200, sdp01: 486, inv2543: 486,
};

/**
 * RFC 4475 §1: the messages use example addresses and must be retargeted before sending. A few
 * share branch and sent-by (cparam01/02, escnull/regescrt, unkscm/novelsc) and so are, by
 * RFC 3261 §17.2.3, one transaction: give each its own branch. badbranch is left alone.
 */
function retarget(key: string, text: string): Buffer {
  const out = key === 'badbranch' ? text : text.replace(/branch=z9hG4bK/i, `branch=z9hG4bK${key}x`);
  return Buffer.from(out, 'latin1');
}

function callIdOf(text: string): string | undefined {
  return /\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)/i.exec(text)?.[1].trim();
}

let running: RunningEngine;
let srf: Srf;
let peer: RawPeer;

beforeAll(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
  srf.use('invite', (_req, res) => res.send(486));
  for (const m of ['register', 'options', 'message']) srf.use(m, (_req, res) => res.send(200));
  peer = await udpPeer(running.port('udp'));
});

afterAll(async () => {
  peer.close();
  srf.disconnect();
  await running.stop();
});

describe('RFC 4475 torture messages at the engine', () => {
  it('has an expectation for every message', () => {
    const keys = Object.keys(messages).filter((k) => k !== '_about');
    expect(keys.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [key, expected] of Object.entries(EXPECTED)) {
    it(`${key}: ${expected === 'none' ? 'dropped' : expected}`, async () => {
      const callId = callIdOf(messages[key]);
      const ours = (m: string) => callId !== undefined && callIdOf(m) === callId;
      peer.send(retarget(key, messages[key]));
      if (expected === 'none') {
        await new Promise((r) => setTimeout(r, 250));
        expect(peer.received.filter(ours)).toEqual([]);
      } else {
        const res = await peer.next((m) => statusOf(m) >= 200 && (callId === undefined || ours(m)), 3000);
        expect(statusOf(res)).toBe(expected);
        if (expected === 420) expect(res).toMatch(/\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither/);
      }
      // The engine still serves a well-formed request afterwards.
      const probe = request('OPTIONS', { port: peer.port });
      const probeId = callIdOf(probe)!;
      peer.send(probe);
      const ok = await peer.next((m) => callIdOf(m) === probeId, 3000);
      expect(statusOf(ok)).toBe(200);
    });
  }
});
