import { describe, it, expect } from 'vitest';
import { SipStreamFramer, type StreamFramerSink } from './stream-framer';
import { scanContentLength, CONTENT_LENGTH_ABSENT, CONTENT_LENGTH_INVALID } from './wire-bytes';
import { sipRequest } from './transport-test-support';

class Recorder implements StreamFramerSink {
  frames: Buffer[] = [];
  pings = 0;
  errors: string[] = [];
  onFrame(m: Buffer): void {
    this.frames.push(m);
  }
  onPing(): void {
    this.pings++;
  }
  onFramingError(reason: string): void {
    this.errors.push(reason);
  }
}

function framer(max = 65535): { f: SipStreamFramer; r: Recorder } {
  const r = new Recorder();
  return { f: new SipStreamFramer(max, r), r };
}

describe('SipStreamFramer (RFC 3261 §18.3)', () => {
  it('frames one message with a body, exactly', () => {
    const { f, r } = framer();
    const msg = sipRequest('INVITE', { body: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n' });
    f.push(msg);
    expect(r.frames).toHaveLength(1);
    expect(r.frames[0].equals(msg)).toBe(true);
    expect(f.bufferedBytes).toBe(0);
  });

  it('hands out whole messages as zero-copy views of the chunk', () => {
    const { f, r } = framer();
    const a = sipRequest('OPTIONS');
    const b = sipRequest('INFO', { body: 'hello' });
    const chunk = Buffer.concat([a, b]);
    f.push(chunk);
    expect(r.frames.map((x) => x.toString())).toEqual([a.toString(), b.toString()]);
    expect(r.frames[0].buffer).toBe(chunk.buffer);
  });

  it('accepts compact l:, lower-case and spaced Content-Length; absent means 0', () => {
    const { f, r } = framer();
    const m1 = sipRequest('MESSAGE', { body: 'abc', lengthHeader: 'l' });
    const m2 = sipRequest('MESSAGE', { body: 'defg', lengthHeader: 'content-LENGTH ' });
    const m3 = Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nL :   2 \r\nCall-ID: x\r\n\r\nhi');
    const m4 = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nLocation: 5\r\nCall-ID: y\r\n\r\n');
    f.push(Buffer.concat([m1, m2, m3, m4]));
    expect(r.frames.map((x) => x.toString())).toEqual([m1, m2, m3, m4].map((x) => x.toString()));
  });

  it('reassembles a message split byte by byte, then continues with the next one', () => {
    const { f, r } = framer();
    const a = sipRequest('INVITE', { body: 'x'.repeat(300) });
    const b = sipRequest('BYE');
    const all = Buffer.concat([a, b]);
    for (let i = 0; i < all.length; i++) f.push(all.subarray(i, i + 1));
    expect(r.frames).toHaveLength(2);
    expect(r.frames[0].equals(a)).toBe(true);
    expect(r.frames[1].equals(b)).toBe(true);
    expect(f.bufferedBytes).toBe(0);
  });

  it('frames 1000 tiny messages from one chunk, in order', () => {
    const { f, r } = framer();
    const msgs = Array.from({ length: 1000 }, (_, i) => sipRequest('OPTIONS', { callId: `c${i}` }));
    f.push(Buffer.concat(msgs));
    expect(r.frames).toHaveLength(1000);
    for (let i = 0; i < 1000; i++) expect(r.frames[i].equals(msgs[i])).toBe(true);
  });

  it('handles messages straddling chunk boundaries at every offset', () => {
    const a = sipRequest('INVITE', { body: 'body-a' });
    const b = sipRequest('ACK');
    const all = Buffer.concat([a, b, a]);
    for (let cut = 1; cut < all.length; cut++) {
      const { f, r } = framer();
      f.push(all.subarray(0, cut));
      f.push(all.subarray(cut));
      expect(r.frames.map((x) => x.toString())).toEqual([a, b, a].map((x) => x.toString()));
    }
  });

  it('skips CRLFs between messages and answers CRLFCRLF pings (RFC 5626 §3.5.1)', () => {
    const { f, r } = framer();
    const a = sipRequest('OPTIONS');
    f.push(Buffer.concat([Buffer.from('\r\n\r\n'), a, Buffer.from('\r\n'), a, Buffer.from('\r\n\r\n\r\n\r\n')]));
    expect(r.frames).toHaveLength(2);
    expect(r.pings).toBe(3);
    // A ping split across reads is still one ping, and a lone pong CRLF is just skipped.
    f.push(Buffer.from('\r'));
    f.push(Buffer.from('\n\r'));
    expect(r.pings).toBe(3);
    f.push(Buffer.from('\n'));
    expect(r.pings).toBe(4);
    f.push(Buffer.from('\r\n'));
    f.push(a);
    expect(r.pings).toBe(4);
    expect(r.frames).toHaveLength(3);
    expect(r.errors).toEqual([]);
  });

  it('fails on a header section larger than the maximum', () => {
    const { f, r } = framer(2048);
    f.push(Buffer.from(`INVITE sip:a@b SIP/2.0\r\nX-Big: ${'a'.repeat(1500)}\r\n`));
    expect(r.errors).toEqual([]);
    f.push(Buffer.from(`X-Big2: ${'b'.repeat(1500)}\r\n`));
    expect(r.errors).toHaveLength(1);
    f.push(sipRequest('OPTIONS'));
    expect(r.frames).toHaveLength(0); // stopped: the stream cannot be resynchronised
  });

  it('fails on a Content-Length above the maximum or not a number', () => {
    const big = framer(4096);
    big.f.push(Buffer.from('INVITE sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n'));
    expect(big.r.errors[0]).toMatch(/Content-Length/);
    const bad = framer();
    bad.f.push(Buffer.from('INVITE sip:a@b SIP/2.0\r\nContent-Length: 12abc\r\n\r\n'));
    expect(bad.r.errors[0]).toMatch(/invalid Content-Length/);
  });

  it('fails on binary garbage at a message boundary', () => {
    const { f, r } = framer();
    f.push(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00]));
    expect(r.errors).toHaveLength(1);
    expect(r.frames).toHaveLength(0);
  });
});

describe('scanContentLength', () => {
  const scan = (s: string): number => {
    const b = Buffer.from(s);
    return scanContentLength(b, 0, b.indexOf('\r\n\r\n'));
  };
  it('finds the value and ignores look-alike header names', () => {
    expect(scan('A sip:x SIP/2.0\r\nContent-Length: 42\r\n\r\n')).toBe(42);
    expect(scan('A sip:x SIP/2.0\r\nContent-Length-X: 3\r\nLocation: 9\r\n\r\n')).toBe(CONTENT_LENGTH_ABSENT);
    expect(scan('A sip:x SIP/2.0\r\nl:7\r\n\r\n')).toBe(7);
    expect(scan('A sip:x SIP/2.0\r\nContent-Length:\r\n\r\n')).toBe(CONTENT_LENGTH_INVALID);
    expect(scan('A sip:x SIP/2.0\r\nContent-Length: 99999999999999\r\n\r\n')).toBe(0x7fffffff);
  });
});
