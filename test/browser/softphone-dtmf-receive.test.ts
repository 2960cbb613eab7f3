/** The softphone's pure parts for receiving DTMF as SIP INFO (softphone/src/phone/dtmf.ts). */
import { describe, expect, it } from 'vitest';
import { RECV_INFO_DTMF, dtmfReceiveFromUrl, parseDtmfInfo } from '../../softphone/src/phone/dtmf.js';

describe('receiving DTMF as INFO', () => {
  it('asks with the RFC 6086 Recv-Info header for the dtmf Info Package', () => {
    expect(RECV_INFO_DTMF).toBe('Recv-Info: dtmf');
  });

  it('reads application/dtmf-relay (digits, 10/11 for * and #, duration) and application/dtmf', () => {
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=200\r\n')).toEqual({ digit: '5', durationMs: 200 });
    expect(parseDtmfInfo('Application/DTMF-Relay; charset=x', 'signal = #\r\n')).toEqual({ digit: '#', durationMs: undefined });
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=10\r\nDuration=100')).toEqual({ digit: '*', durationMs: 100 });
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=11')).toMatchObject({ digit: '#' });
    expect(parseDtmfInfo('application/dtmf', ' b ')).toEqual({ digit: 'B', durationMs: undefined });
  });

  it('ignores other INFO bodies and garbage', () => {
    expect(parseDtmfInfo('application/json', '{"Signal":5}')).toBeUndefined();
    expect(parseDtmfInfo(undefined, 'Signal=5')).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf-relay', 'Duration=100')).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=12')).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf', '55')).toBeUndefined();
  });

  it('takes ?dtmf=info / ?dtmf=rfc4733 from the page URL, nothing else', () => {
    expect(dtmfReceiveFromUrl('?dtmf=info')).toBe('info');
    expect(dtmfReceiveFromUrl('?user=bob&dtmf=INFO')).toBe('info');
    expect(dtmfReceiveFromUrl('?dtmf=rfc4733')).toBe('rfc4733');
    expect(dtmfReceiveFromUrl('?dtmf=inband')).toBeUndefined();
    expect(dtmfReceiveFromUrl('')).toBeUndefined();
  });
});
