import { describe, it, expect } from 'vitest';
import { parseMessage, SipParseError, DEFAULT_PARSE_LIMITS, type ParseLimits } from './parser';
import { SipRequest, SipResponse } from './message';

const INVITE = [
  'INVITE sip:bob@biloxi.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.com>',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.com>',
  'Content-Type: application/sdp',
  'Content-Length: 5',
  '',
  'v=0\r\n',
].join('\r\n');

function parse(text: string | Buffer, limits?: ParseLimits): SipRequest | SipResponse {
  return parseMessage(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, limits);
}

function parseError(text: string | Buffer, limits?: ParseLimits): SipParseError {
  try {
    parse(text, limits);
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw e;
  }
  throw new Error('expected a SipParseError');
}

describe('parseMessage: requests', () => {
  it('reads the request line, headers in order, and exactly Content-Length bytes of body', () => {
    const m = parse(INVITE + 'trailing junk');
    expect(m).toBeInstanceOf(SipRequest);
    const r = m as SipRequest;
    expect(r.method).toBe('INVITE');
    expect(r.uri).toBe('sip:bob@biloxi.com');
    expect(r.version).toBe('SIP/2.0');
    expect(r.headers.map((h) => h.name)).toEqual(['Via', 'Max-Forwards', 'To', 'From', 'Call-ID', 'CSeq', 'Contact', 'Content-Type', 'Content-Length']);
    expect(r.getHeader('call-id')).toBe('a84b4c76e66710@pc33.atlanta.com');
    expect(Buffer.isBuffer(r.body)).toBe(true);
    expect(r.body.toString('latin1')).toBe('v=0\r\n');
  });

  it('keeps compact and odd-case names as received; lookups canonicalise', () => {
    const r = parse('OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\ni: x@y\r\nMAX-forwards: 5\r\nl: 0\r\n\r\n');
    expect(r.headers.map((h) => h.name)).toEqual(['v', 'i', 'MAX-forwards', 'l']);
    expect(r.getHeader('Via')).toBe('SIP/2.0/UDP h;branch=z9hG4bK1');
    expect(r.getHeader('Call-ID')).toBe('x@y');
    expect(r.getHeader('max-forwards')).toBe('5');
  });

  it('unfolds continuation lines and allows white space before the colon and empty values', () => {
    const r = parse('OPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:a@b ;\r\n\ttag = 1\r\nSubject:\r\nX-Long: one\r\n   two\r\n\r\n');
    expect(r.getHeader('To')).toBe('sip:a@b ; tag = 1');
    expect(r.headers[0].name).toBe('TO');
    expect(r.getHeader('Subject')).toBe('');
    expect(r.getHeader('X-Long')).toBe('one two');
  });

  it('ignores CRLFs before the start line (RFC 3261 §7.5)', () => {
    const r = parse('\r\n\r\n\r\n' + INVITE) as SipRequest;
    expect(r.method).toBe('INVITE');
  });

  it('accepts any token as a method and keeps the Request-URI text unparsed', () => {
    const r = parse('FOO.bar-1 tel:+1555 SIP/2.0\r\n\r\n') as SipRequest;
    expect(r.method).toBe('FOO.bar-1');
    expect(r.uri).toBe('tel:+1555');
  });

  it('tolerates several SP in the Request-Line and SP at its end (RFC 4475 §3.1.2.9-10)', () => {
    const r = parse('INVITE  sip:a@b   SIP/2.0  \r\n\r\n') as SipRequest;
    expect(r.startLine).toBe('INVITE sip:a@b SIP/2.0');
  });

  it('without Content-Length takes the rest of the datagram as the body', () => {
    const r = parse('MESSAGE sip:a@b SIP/2.0\r\nVia: x\r\n\r\nhello\r\n');
    expect(r.body.toString()).toBe('hello\r\n');
  });

  it('never decodes the body: arbitrary bytes come back intact', () => {
    const body = Buffer.from([0, 255, 13, 10, 13, 10, 0xc3, 0x28]);
    const head = Buffer.from(`MESSAGE sip:a@b SIP/2.0\r\nContent-Length: ${body.length}\r\n\r\n`);
    const r = parse(Buffer.concat([head, body]));
    expect(r.body.equals(body)).toBe(true);
  });

  it('decodes the head as UTF-8', () => {
    const r = parse('MESSAGE sip:a@b SIP/2.0\r\nSubject: été 大\r\nFrom: "Zoë" <sip:z@b>\r\n\r\n');
    expect(r.getHeader('Subject')).toBe('été 大');
    expect(r.toBuffer().includes(Buffer.from('Subject: été 大'))).toBe(true);
  });

  it('treats header names that are Object.prototype members as ordinary extension headers', () => {
    const r = parse('OPTIONS sip:a@b SIP/2.0\r\nconstructor: 1\r\n__proto__: 2\r\ntoString: 3\r\nhasOwnProperty: 4\r\n\r\n');
    expect(r.getHeader('Constructor')).toBe('1');
    expect(r.getHeader('__proto__')).toBe('2');
    expect(r.getHeader('tostring')).toBe('3');
    expect(r.toBuffer().toString()).toContain('hasOwnProperty: 4');
  });

  it('accepts repeated identical Content-Length values', () => {
    expect(parse('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\nl: 2\r\n\r\nok').body.toString()).toBe('ok');
  });
});

describe('parseMessage: responses', () => {
  it('reads status and reason, including an empty reason (RFC 4475 §3.1.1.13)', () => {
    const r = parse('SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n') as SipResponse;
    expect(r).toBeInstanceOf(SipResponse);
    expect(r.status).toBe(180);
    expect(r.reason).toBe('Ringing');
    expect((parse('SIP/2.0 100 \r\n\r\n') as SipResponse).reason).toBe('');
    expect((parse('SIP/2.0 100\r\n\r\n') as SipResponse).reason).toBe('');
    expect((parse('SIP/2.0 486 Busy  Here\r\n\r\n') as SipResponse).reason).toBe('Busy  Here');
  });

  it('rejects status codes outside 100-699 and other versions, as responses', () => {
    for (const line of ['SIP/2.0 4294967301 big', 'SIP/2.0 99 low', 'SIP/2.0 700 high', 'SIP/2.0 20x OK', 'SIP/3.0 200 OK', 'SIP/2.0']) {
      const e = parseError(`${line}\r\nVia: x\r\n\r\n`);
      expect(e.isRequest, line).toBe(false);
      expect(e.partial).toBeInstanceOf(SipResponse);
    }
  });
});

describe('parseMessage: errors carry status and the partial message', () => {
  it('505 for another SIP version, with every header line in partial', () => {
    const e = parseError(INVITE.replace('SIP/2.0\r\n', 'SIP/7.0\r\n'));
    expect(e.status).toBe(505);
    expect(e.isRequest).toBe(true);
    expect(e.partial).toBeInstanceOf(SipRequest);
    expect(e.partial?.getHeader('CSeq')).toBe('314159 INVITE');
    expect(e.partial?.headers).toHaveLength(9);
  });

  it('400 for a malformed Request-Line', () => {
    for (const line of ['INVITE sip:a@b', 'INVITE sip:a@b; lr SIP/2.0', 'INV(ITE sip:a@b SIP/2.0', ' INVITE sip:a@b SIP/2.0', 'INVITE sip:a@b HTTP/1.1', 'INVITE sip:a@b SIP/2']) {
      const e = parseError(`${line}\r\nCall-ID: c\r\n\r\n`);
      expect(e.status, line).toBe(400);
      expect(e.partial?.getHeader('Call-ID'), line).toBe('c');
    }
  });

  it('400 for bad header lines, keeping the other lines in partial', () => {
    for (const bad of ['No colon here', 'Bad Name: x', ': empty name', 'Na(me: x', 'X: a\rb', 'X: a\nb']) {
      const e = parseError(`OPTIONS sip:a@b SIP/2.0\r\nVia: v\r\n${bad}\r\nCSeq: 1 OPTIONS\r\n\r\n`);
      expect(e.status, bad).toBe(400);
      expect(e.partial?.getHeader('Via'), bad).toBe('v');
      expect(e.partial?.getHeader('CSeq'), bad).toBe('1 OPTIONS');
    }
    expect(parseError('OPTIONS sip:a@b SIP/2.0\r\n folded-first\r\n\r\n').status).toBe(400);
  });

  it('400 for Content-Length problems (RFC 3261 §18.3, RFC 4475 §3.1.2.2, §3.1.2.3, §3.3.9)', () => {
    const base = 'OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\n';
    for (const cl of ['Content-Length: 10\r\n', 'Content-Length: -1\r\n', 'Content-Length: abc\r\n', 'Content-Length: 1.5\r\n', 'Content-Length:\r\n', 'Content-Length: 1\r\nl: 2\r\n']) {
      const e = parseError(`${base}${cl}\r\nabc`);
      expect(e.status, cl).toBe(400);
      expect(e.partial?.getHeader('Call-ID')).toBe('c');
    }
  });

  it('400 when the blank line ending the headers is missing', () => {
    expect(parseError('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\n').status).toBe(400);
    expect(parseError('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\nVia: trunc').partial?.getHeader('Call-ID')).toBe('c');
    expect(parseError('OPTIONS sip:a@b SIP/2.0').status).toBe(400);
  });

  it('throws on empty input and CRLF-only keep-alives', () => {
    expect(parseError('').status).toBe(400);
    expect(parseError('\r\n\r\n').isRequest).toBeUndefined();
  });
});

describe('parseMessage: limits', () => {
  const small: ParseLimits = { maxMessageBytes: 300, maxHeaders: 5, maxHeaderBytes: 200 };

  it('has the documented defaults', () => {
    expect(DEFAULT_PARSE_LIMITS).toEqual({ maxMessageBytes: 65535, maxHeaders: 256, maxHeaderBytes: 16384 });
  });

  it('513 for too many headers, keeping the first ones', () => {
    const lines = Array.from({ length: 8 }, (_, i) => `X-${i}: ${i}`).join('\r\n');
    const e = parseError(`OPTIONS sip:a@b SIP/2.0\r\n${lines}\r\n\r\n`, small);
    expect(e.status).toBe(513);
    expect(e.partial?.headers).toHaveLength(5);
  });

  it('513 for a head larger than maxHeaderBytes', () => {
    const e = parseError(`OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\nX-Big: ${'a'.repeat(500)}\r\n\r\n`, small);
    expect(e.status).toBe(513);
    expect(e.partial?.getHeader('Call-ID')).toBe('c');
  });

  it('413 for a Content-Length beyond maxMessageBytes, 513 for a datagram that is too large', () => {
    expect(parseError(`MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 400\r\n\r\n${'x'.repeat(400)}`, small).status).toBe(413);
    expect(parseError(`MESSAGE sip:a@b SIP/2.0\r\n\r\n${'x'.repeat(400)}`, small).status).toBe(513);
    expect(parse(`MESSAGE sip:a@b SIP/2.0\r\n\r\n${'x'.repeat(200)}`, small).body).toHaveLength(200);
  });

  it('parses the largest allowed head', () => {
    const prefix = 'OPTIONS sip:a@b SIP/2.0\r\nX: ';
    const head = prefix + 'a'.repeat(small.maxHeaderBytes - prefix.length);
    expect(parse(`${head}\r\n\r\n`, small).getHeader('X')).toHaveLength(small.maxHeaderBytes - prefix.length);
    expect(parseError(`${head}a\r\n\r\n`, small).status).toBe(513);
  });
});

describe('round trip', () => {
  it('serialises back to the same bytes for a well-formed message', () => {
    const r = parse(INVITE);
    expect(r.toBuffer().toString('latin1')).toBe(INVITE);
  });
});
