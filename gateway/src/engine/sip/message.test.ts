import { describe, it, expect } from 'vitest';
import { SipRequest, splitHeaderValues, canonicalHeaderName } from './message';

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
});
