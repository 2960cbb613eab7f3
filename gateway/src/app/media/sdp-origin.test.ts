import { describe, expect, it } from 'vitest';
import { SdpOrigin } from './sdp-origin';

const sdp = (id: string, version: number, port: number) =>
  `v=0\r\no=- ${id} ${version} IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\n`;
const origin = (text: string) => /^o=(.*)$/m.exec(text)![1]!.trim().split(' ');

describe('SdpOrigin (RFC 3264 §8: one session id per party, version changes with the description)', () => {
  it('keeps its own session id whoever the SDP came from, and the address', () => {
    const o = new SdpOrigin();
    const first = origin(o.apply(sdp('111', 5, 4000)));
    const second = origin(o.apply(sdp('999', 77, 4000))); // another party behind rtpengine, same media
    expect(second[1]).toBe(first[1]);
    expect(second[1]).not.toBe('111');
    expect(second[5]).toBe('203.0.113.1');
  });

  it('keeps the version while the description is unchanged and increments it by one when it changes', () => {
    const o = new SdpOrigin();
    const v0 = Number(origin(o.apply(sdp('1', 1, 4000)))[2]);
    expect(Number(origin(o.apply(sdp('1', 2, 4000)))[2])).toBe(v0);
    expect(Number(origin(o.apply(sdp('2', 1, 4002)))[2])).toBe(v0 + 1);
    expect(Number(origin(o.apply(sdp('2', 1, 4002)))[2])).toBe(v0 + 1);
  });

  it('leaves SDP without an o= line alone', () => {
    expect(new SdpOrigin().apply('v=0\r\ns=-\r\n')).toBe('v=0\r\ns=-\r\n');
  });
});
