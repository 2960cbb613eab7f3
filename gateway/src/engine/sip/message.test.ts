import { describe, it, expect } from 'vitest';
import { SipRequest, SipResponse, splitHeaderValues, canonicalHeaderName, headerKey } from './message';

describe('SipMessage', () => {
  it('splits multi-value headers outside quotes and angle brackets', () => {
    expect(splitHeaderValues('"a, b" <sip:x@y;p=1,2>, <sip:z@w>')).toEqual(['"a, b" <sip:x@y;p=1,2>', '<sip:z@w>']);
  });
  it('expands compact forms and canonicalises names', () => {
    expect(canonicalHeaderName('i')).toBe('Call-ID');
    expect(canonicalHeaderName('x-foo-bar')).toBe('X-Foo-Bar');
    expect(canonicalHeaderName('cseq')).toBe('CSeq');
  });
  it('sets, reads and serialises headers with a recomputed Content-Length', () => {
    const r = new SipRequest('OPTIONS', 'sip:a@b');
    r.addHeader('v', 'SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP g;branch=z9hG4bK2');
    r.setHeader('Content-Length', '99');
    r.setBody('hello', 'text/plain');
    expect(r.getHeaderValues('Via')).toHaveLength(2);
    expect(r.shiftHeaderValue('Via')).toBe('SIP/2.0/UDP h;branch=z9hG4bK1');
    expect(r.toString()).toBe('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP g;branch=z9hG4bK2\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
  });
  it('gives one lookup key to every spelling of a name', () => {
    expect(headerKey('v')).toBe('via');
    expect(headerKey('VIA')).toBe('via');
    expect(headerKey('l')).toBe('content-length');
    expect(headerKey('X-Foo')).toBe(headerKey('x-FOO'));
    expect(canonicalHeaderName('WWW-AUTHENTICATE')).toBe('WWW-Authenticate');
    expect(canonicalHeaderName('www-authenticate')).toBe('WWW-Authenticate');
  });
  it('finds headers whatever the wire spelling, and edits them in place', () => {
    const r = new SipResponse(200, 'OK');
    r.headers.push({ name: 'v', value: 'SIP/2.0/UDP a;branch=z9hG4bK1' }, { name: 'VIA', value: 'SIP/2.0/UDP b;branch=z9hG4bK2' }, { name: 'i', value: 'cid' });
    expect(r.hasHeader('Via')).toBe(true);
    expect(r.getHeaderLines('via')).toEqual(['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2']);
    expect(r.callId).toBe('cid');
    r.setHeader('Call-ID', 'new');
    expect(r.headers[2]).toEqual({ name: 'Call-ID', value: 'new' });
    r.removeHeader('v');
    expect(r.headers).toEqual([{ name: 'Call-ID', value: 'new' }]);
    r.prependHeader('via', 'SIP/2.0/TCP c');
    expect(r.headers[0].name).toBe('Via');
  });
});
