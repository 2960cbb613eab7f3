import { describe, it, expect } from 'vitest';
import { validateRequest, validateResponse } from './validate';
import { parseMessage } from './parser';
import { SipRequest, SipResponse } from './message';

function request(method: string, uri: string, headers: Record<string, string | string[]>, body = ''): SipRequest {
  const r = new SipRequest(method, uri);
  for (const [name, v] of Object.entries(headers)) for (const value of Array.isArray(v) ? v : [v]) r.addHeader(name, value);
  if (body) r.setBody(body);
  return r;
}

const GOOD: Record<string, string | string[]> = {
  Via: 'SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
  'Max-Forwards': '70',
  To: 'Bob <sip:bob@biloxi.com>',
  From: 'Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID': 'a84b4c76e66710@pc33.atlanta.com',
  CSeq: '314159 INVITE',
  Contact: '<sip:alice@pc33.atlanta.com>',
};

function without(name: string): Record<string, string | string[]> {
  const h = { ...GOOD };
  delete h[name];
  return h;
}

describe('validateRequest', () => {
  it('accepts a well-formed request', () => {
    expect(validateRequest(request('INVITE', 'sip:bob@biloxi.com', GOOD))).toBeNull();
  });

  it('names the missing mandatory headers (RFC 3261 §8.1.1)', () => {
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
      expect(validateRequest(request('INVITE', 'sip:b@c', without(name)))).toEqual({ status: 400, reason: `Bad Request - Missing ${name}` });
    }
    const r = request('INVITE', 'sip:b@c', { Via: GOOD.Via, CSeq: '1 INVITE' });
    expect(validateRequest(r)?.reason).toBe('Bad Request - Missing From, To, Call-ID');
  });

  it('does not require Max-Forwards nor a From tag nor a branch (RFC 2543 peers, RFC 4475 §3.4.1)', () => {
    const h = without('Max-Forwards');
    h.From = 'sip:alice@atlanta.com';
    h.Via = 'SIP/2.0/UDP pc33.atlanta.com';
    expect(validateRequest(request('INVITE', 'sip:b@c', h))).toBeNull();
  });

  it('refuses single-valued headers given twice (RFC 4475 §3.3.8)', () => {
    for (const name of ['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']) {
      const h = { ...GOOD, [name]: [GOOD[name] as string, GOOD[name] as string] };
      expect(validateRequest(request('INVITE', 'sip:b@c', h))?.reason).toBe(`Bad Request - Multiple ${name} headers`);
    }
  });

  it('checks CSeq and its method', () => {
    const bad = (cseq: string, method = 'INVITE') => validateRequest(request(method, 'sip:b@c', { ...GOOD, CSeq: cseq }));
    expect(bad('x INVITE')?.reason).toBe('Bad Request - Malformed CSeq');
    expect(bad('2147483648 INVITE')?.reason).toBe('Bad Request - Malformed CSeq');
    expect(bad('1 OPTIONS')?.reason).toBe('Bad Request - CSeq method does not match request method');
    expect(bad('1 invite')?.status).toBe(400);
    expect(bad('1 ACK', 'ACK')).toBeNull();
    expect(bad('1 CANCEL', 'CANCEL')).toBeNull();
    expect(bad('1 INVITE', 'ACK')?.status).toBe(400);
  });

  it('checks every Via and the top branch', () => {
    const withVia = (via: string | string[]) => validateRequest(request('INVITE', 'sip:b@c', { ...GOOD, Via: via }));
    expect(withVia(['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/TCP b:5070;branch=z9hG4bK2'])).toBeNull();
    expect(withVia('SIP/2.0/UDP a;branch=z9hG4bK1, garbage')?.reason).toBe('Bad Request - Malformed Via');
    expect(withVia('SIP/2.0/UDP')?.reason).toBe('Bad Request - Malformed Via');
    expect(withVia('SIP/2.0/UDP a;branch=z9hG4bK')?.reason).toBe('Bad Request - Via branch has no transaction id');
  });

  it('checks From, To and Contact grammar', () => {
    const withH = (name: string, v: string, method = 'INVITE') => validateRequest(request(method, 'sip:b@c', { ...GOOD, CSeq: `1 ${method}`, [name]: v }));
    expect(withH('From', 'Bell, Alexander <sip:a@b>;tag=1')?.reason).toBe('Bad Request - Malformed From');
    expect(withH('To', '<sip:user@bad host>')?.reason).toBe('Bad Request - Malformed To');
    expect(withH('To', '<sip:@host>')?.reason).toBe('Bad Request - Malformed To');
    expect(withH('To', '*')?.reason).toBe('Bad Request - Malformed To');
    expect(withH('To', '<urn:service:sos>')).toBeNull();
    expect(withH('Contact', 'sip:a@b?x=y')?.reason).toBe('Bad Request - Malformed Contact');
    expect(withH('Contact', '<sip:a@b>;;')?.reason).toBe('Bad Request - Malformed Contact');
    expect(withH('Contact', '*')?.reason).toBe('Bad Request - Malformed Contact');
    expect(withH('Contact', '*', 'REGISTER')).toBeNull();
    expect(withH('Contact', '<sip:a@b>, <sip:c@d>;q=0.5', 'REGISTER')).toBeNull();
  });

  it('checks Call-ID, Max-Forwards and Content-Length', () => {
    const withH = (name: string, v: string, body = '') => validateRequest(request('INVITE', 'sip:b@c', { ...GOOD, [name]: v }, body));
    expect(withH('Call-ID', '')?.reason).toBe('Bad Request - Malformed Call-ID');
    expect(withH('Call-ID', 'a b')?.reason).toBe('Bad Request - Malformed Call-ID');
    expect(withH('Call-ID', 'base64==@host')).toBeNull();
    expect(withH('Max-Forwards', '0068')).toBeNull();
    expect(withH('Max-Forwards', '0')).toBeNull();
    expect(withH('Max-Forwards', '256')?.reason).toBe('Bad Request - Invalid Max-Forwards');
    expect(withH('Max-Forwards', '-1')?.reason).toBe('Bad Request - Invalid Max-Forwards');
    expect(withH('Content-Length', '3', 'abc')).toBeNull();
    expect(withH('Content-Length', '4', 'abc')?.reason).toBe('Bad Request - Content-Length mismatch');
  });

  it('answers the Request-URI: 416 for unsupported schemes, 400 for malformed ones (RFC 3261 §8.2.2.1)', () => {
    const ruri = (uri: string) => validateRequest(request('INVITE', uri, GOOD));
    expect(ruri('sips:bob@biloxi.com')).toBeNull();
    expect(ruri('tel:+15551234567')).toBeNull();
    expect(ruri('http://example.com')).toEqual({ status: 416, reason: 'Unsupported URI Scheme' });
    expect(ruri('<sip:bob@biloxi.com>')?.status).toBe(400);
    expect(ruri('sip:bob@')?.reason).toBe('Bad Request - Malformed Request-URI');
    expect(ruri('')?.reason).toBe('Bad Request - Malformed Request-URI');
    expect(ruri('sip:bob@biloxi.com?Route=%3Csip:x%3E')?.reason).toBe('Bad Request - Headers not allowed in Request-URI');
  });

  it('checks syntax before the URI scheme (RFC 3261 §16.3 steps 1 and 2)', () => {
    expect(validateRequest(request('INVITE', 'http://x', without('Call-ID')))?.status).toBe(400);
  });
});

describe('validateResponse', () => {
  const res = (text: string) => parseMessage(Buffer.from(text)) as SipResponse;
  const HEAD = 'Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n';

  it('accepts a well-formed response', () => {
    expect(validateResponse(res(`SIP/2.0 200 OK\r\n${HEAD}\r\n`))).toBeNull();
  });

  it('gives a reason to drop broken ones', () => {
    expect(validateResponse(res(`SIP/2.0 200 OK\r\n${HEAD.replace('Call-ID: x\r\n', '')}\r\n`))).toBe('Missing Call-ID');
    expect(validateResponse(res(`SIP/2.0 503 Service Unavailable\r\n${HEAD.replace('1 INVITE', '9292394834772304023312 OPTIONS')}\r\n`))).toBe('Malformed CSeq');
    expect(validateResponse(res(`SIP/2.0 200 OK\r\n${HEAD}Call-ID: y\r\n\r\n`))).toBe('Multiple Call-ID headers');
    expect(validateResponse(res(`SIP/2.0 200 OK\r\n${HEAD.replace('h;branch', 'h;;branch')}\r\n`))).toBe('Malformed Via');
    const built = new SipResponse(999, 'x');
    expect(validateResponse(built)).toBe('Invalid status code');
  });
});
