/**
 * Deterministic fuzzing of the parser and the header/URI readers: thousands of mutations of real
 * messages must either parse or throw SipParseError (never another exception), and a parsed message
 * must respect the limits it was parsed with.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseMessage, SipParseError, DEFAULT_PARSE_LIMITS, type ParseLimits } from './parser';
import { SipRequest, SipResponse } from './message';
import { validateRequest, validateResponse } from './validate';
import { parseCSeq, parseNameAddr, parseRAck, parseVia, getTag, viaBranch } from './headers';
import { parseUri } from './uri';
import { prng } from '../../../../test/harness/prng';

const messages: Record<string, string> = JSON.parse(
  readFileSync(path.resolve(__dirname, '../../../../../shared/rfc4475/messages.json'), 'utf8'),
);

const SEEDS: Buffer[] = [
  Buffer.from(
    'INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;rport\r\n' +
      'Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.com>\r\nFrom: "Alice" <sip:alice@atlanta.com>;tag=1928301774\r\n' +
      'Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@df7jal23ls0d.invalid;transport=ws;ob>\r\n' +
      'Route: <sip:proxy.example.com;lr>\r\nRAck: 1 314159 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 13\r\n\r\nv=0\r\no=- 1 1\r\n',
  ),
  Buffer.from(
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bKnashds8;received=192.0.2.3\r\n' +
      'Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2\r\n' +
      'To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n' +
      'Call-ID: a84b4c76e66710@pc33.atlanta.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:bob@192.0.2.4>\r\nContent-Length: 0\r\n\r\n',
  ),
  ...['wsinv', 'intmeth', 'esc01', 'longreq', 'mpart01', 'unreason', 'inv2543', 'badinv01'].map((k) => Buffer.from(messages[k], 'latin1')),
];


const INTERESTING = [0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 64, 92, 0x7f, 0xc3, 0xff];

function mutate(src: Buffer, rnd: () => number): Buffer {
  const int = (n: number): number => Math.floor(rnd() * n);
  const lines = (): string[] => src.toString('latin1').split('\r\n');
  switch (int(9)) {
    case 0: {
      const b = Buffer.from(src);
      for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] = int(256);
      return b;
    }
    case 1: {
      const b = Buffer.from(src);
      for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = INTERESTING[int(INTERESTING.length)];
      return b;
    }
    case 2:
      return src.subarray(0, int(src.length + 1));
    case 3: {
      const l = lines();
      const i = 1 + int(Math.max(1, l.length - 3));
      const copies = 1 + int(300);
      l.splice(i, 0, ...Array.from({ length: copies }, () => l[i]));
      return Buffer.from(l.join('\r\n'), 'latin1');
    }
    case 4: {
      const l = lines();
      const i = 1 + int(Math.max(1, l.length - 3));
      l[i] = `${l[i]}${'x;,<"'[int(5)].repeat(1000 + int(80000))}`;
      return Buffer.from(l.join('\r\n'), 'latin1');
    }
    case 5: {
      const b = Buffer.alloc(int(2000));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      return rnd() < 0.5 ? b : Buffer.concat([src.subarray(0, int(src.length)), b]);
    }
    case 6: {
      const at = int(src.length);
      const insert = Buffer.from(['\r\n', ' ', '\r\n ', ':', '"', '<', '>', ';', '%', '\r\n\r\n', '\n', '\r'][int(12)], 'latin1');
      return Buffer.concat([src.subarray(0, at), insert, src.subarray(at)]);
    }
    case 7: {
      // Header names a careless lookup table would resolve through Object.prototype.
      const l = lines();
      const name = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'l', 'v', 'i'][int(8)];
      l.splice(1 + int(Math.max(1, l.length - 3)), 0, `${name}: ${int(100)}`);
      return Buffer.from(l.join('\r\n'), 'latin1');
    }
    default: {
      const other = SEEDS[int(SEEDS.length)];
      return Buffer.concat([src.subarray(0, int(src.length)), other.subarray(int(other.length))]);
    }
  }
}

/** Call a reader; only SipParseError may escape it. */
function readerSafe(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
  }
}

function exercise(m: SipRequest | SipResponse): void {
  for (const v of m.getHeaderValues('Via')) {
    readerSafe(() => parseVia(v));
    viaBranch(v);
  }
  for (const h of ['From', 'To', 'Contact', 'Route', 'Record-Route']) {
    for (const v of m.getHeaderValues(h)) {
      readerSafe(() => parseUri(parseNameAddr(v).uri));
      getTag(v);
    }
  }
  readerSafe(() => parseCSeq(m.getHeader('CSeq') ?? ''));
  readerSafe(() => parseRAck(m.getHeader('RAck') ?? ''));
  if (m instanceof SipRequest) {
    readerSafe(() => parseUri(m.uri));
    validateRequest(m);
  } else {
    validateResponse(m);
  }
  m.toBuffer();
}

describe('parser fuzz', () => {
  const limitsList: ParseLimits[] = [DEFAULT_PARSE_LIMITS, { maxMessageBytes: 1500, maxHeaders: 20, maxHeaderBytes: 1024 }];

  it('parses every mutation or throws SipParseError, within limits', () => {
    const rnd = prng(0x5eed4475);
    const outcomes = { parsed: 0, errors: 0 };
    for (let n = 0; n < 4000; n++) {
      const input = mutate(SEEDS[Math.floor(rnd() * SEEDS.length)], rnd);
      const limits = limitsList[n % limitsList.length];
      let m: SipRequest | SipResponse;
      try {
        m = parseMessage(input, limits);
      } catch (e) {
        if (!(e instanceof SipParseError)) throw new Error(`mutation ${n} threw ${String(e)}`);
        expect(e.status).toBeGreaterThanOrEqual(400);
        expect(e.status).toBeLessThan(600);
        if (e.partial) expect(e.partial.headers.length).toBeLessThanOrEqual(limits.maxHeaders);
        outcomes.errors++;
        continue;
      }
      outcomes.parsed++;
      expect(m instanceof SipRequest || m instanceof SipResponse).toBe(true);
      expect(m.headers.length).toBeLessThanOrEqual(limits.maxHeaders);
      expect(m.body.length).toBeLessThanOrEqual(limits.maxMessageBytes);
      const headBytes = m.headers.reduce((sum, h) => sum + Buffer.byteLength(h.name) + Buffer.byteLength(h.value) + 2, 0);
      expect(headBytes).toBeLessThanOrEqual(limits.maxHeaderBytes);
      exercise(m);
    }
    // Both paths must really have been exercised.
    expect(outcomes.parsed).toBeGreaterThan(400);
    expect(outcomes.errors).toBeGreaterThan(400);
  });

  it('survives pure random input', () => {
    const rnd = prng(42);
    for (let n = 0; n < 1000; n++) {
      const b = Buffer.alloc(Math.floor(rnd() * 600));
      for (let i = 0; i < b.length; i++) b[i] = rnd() < 0.3 ? [13, 10, 32, 58][Math.floor(rnd() * 4)] : Math.floor(rnd() * 256);
      try {
        exercise(parseMessage(b));
      } catch (e) {
        if (!(e instanceof SipParseError)) throw e;
      }
    }
  });
});
