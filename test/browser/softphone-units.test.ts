/** The softphone's pure parts (softphone/src/phone): addresses, DTMF bodies, getStats summary. */
import { describe, expect, it } from 'vitest';
import { AddressError, dialTarget, signInAddresses } from '../../softphone/src/phone/addresses.js';
import { dtmfRelayBody, normaliseDigit } from '../../softphone/src/phone/dtmf.js';
import { summariseStats } from '../../softphone/src/phone/stats.js';
import { parseDigest, digestMatches } from './sip-test-app.js';

describe('signInAddresses', () => {
  it('takes the domain from the server URL for a bare user name', () => {
    expect(signInAddresses('wss://127.0.0.1:8443/', 'alice')).toEqual({
      server: 'wss://127.0.0.1:8443',
      aor: 'sip:alice@127.0.0.1',
      registrar: 'sip:127.0.0.1',
      domain: '127.0.0.1',
      user: 'alice',
      authorizationUser: 'alice',
    });
  });

  it('keeps an explicit domain, a path and a separate digest user', () => {
    expect(signInAddresses(' wss://gw.example.com/sip ', 'sip:1001@pbx.example.com', 'u1001')).toMatchObject({
      server: 'wss://gw.example.com/sip',
      aor: 'sip:1001@pbx.example.com',
      registrar: 'sip:pbx.example.com',
      authorizationUser: 'u1001',
    });
  });

  it('rejects what cannot work, with a message for the page', () => {
    expect(() => signInAddresses('https://127.0.0.1:8443', 'alice')).toThrow(/must start with wss:\/\//);
    expect(() => signInAddresses('127.0.0.1:8443', 'alice')).toThrow(AddressError);
    expect(() => signInAddresses('wss://127.0.0.1:8443', '  ')).toThrow('enter a user name');
    expect(() => signInAddresses('wss://127.0.0.1:8443', 'al ice')).toThrow(/not a valid user name/);
  });
});

describe('dialTarget', () => {
  it('turns numbers, names and addresses into request URIs', () => {
    expect(dialTarget('1001', '127.0.0.1')).toBe('sip:1001@127.0.0.1');
    expect(dialTarget('+44 (20) 7946-0000', 'example.com')).toBe('sip:+442079460000@example.com');
    expect(dialTarget('bob', 'example.com')).toBe('sip:bob@example.com');
    expect(dialTarget('bob@pbx.example.com', 'example.com')).toBe('sip:bob@pbx.example.com');
    expect(dialTarget('sip:bob@10.0.0.5:5080;transport=tcp', 'example.com')).toBe('sip:bob@10.0.0.5:5080;transport=tcp');
    expect(() => dialTarget('', 'example.com')).toThrow(/enter a number/);
  });
});

describe('DTMF', () => {
  it('builds application/dtmf-relay bodies and accepts only DTMF digits', () => {
    expect(dtmfRelayBody('5')).toBe('Signal=5\r\nDuration=160');
    expect(dtmfRelayBody('#', 250)).toBe('Signal=#\r\nDuration=250');
    expect(normaliseDigit('a')).toBe('A');
    expect(() => normaliseDigit('55')).toThrow(/not a DTMF digit/);
    expect(() => normaliseDigit('E')).toThrow(/not a DTMF digit/);
  });
});

describe('summariseStats', () => {
  it('picks audio inbound/outbound RTP, the codec and the selected candidate pair', () => {
    const report = new Map<string, Record<string, unknown> & { type: string; id: string }>(
      [
        { id: 'IT1', type: 'inbound-rtp', kind: 'audio', packetsReceived: 150, packetsLost: 1, audioLevel: 0.02, totalAudioEnergy: 0.5, jitter: 0.003, codecId: 'C1' },
        { id: 'OT1', type: 'outbound-rtp', kind: 'audio', packetsSent: 149 },
        { id: 'C1', type: 'codec', mimeType: 'audio/opus' },
        { id: 'T1', type: 'transport', selectedCandidatePairId: 'CP1' },
        { id: 'CP1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1' },
        { id: 'L1', type: 'local-candidate', address: '127.0.0.1', port: 50000, protocol: 'udp', candidateType: 'host' },
        { id: 'R1', type: 'remote-candidate', address: '127.0.0.1', port: 30000, protocol: 'udp', candidateType: 'host' },
      ].map((s) => [s.id, s]),
    );
    expect(summariseStats(report, { connectionState: 'connected', iceConnectionState: 'connected' })).toEqual({
      connectionState: 'connected',
      iceConnectionState: 'connected',
      packetsReceived: 150,
      packetsLost: 1,
      audioLevel: 0.02,
      totalAudioEnergy: 0.5,
      jitter: 0.003,
      packetsSent: 149,
      codec: 'audio/opus',
      localCandidate: '127.0.0.1:50000/udp typ host',
      remoteCandidate: '127.0.0.1:30000/udp typ host',
    });
  });

  it('reports zeros before any RTP', () => {
    expect(summariseStats(new Map(), { connectionState: 'new', iceConnectionState: 'new' })).toMatchObject({ packetsReceived: 0, packetsSent: 0, audioLevel: undefined });
  });
});

describe('test registrar digest check', () => {
  it('verifies an RFC 2617 qop=auth response (RFC 2617 §3.5 example values)', () => {
    const params = parseDigest(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    expect(params.username).toBe('Mufasa');
    expect(digestMatches('GET', params, 'Circle Of Life')).toBe(true);
    expect(digestMatches('GET', params, 'circle of life')).toBe(false);
  });
});
