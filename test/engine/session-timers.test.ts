/**
 * Session timers (RFC 4028, drachtio-protocol §10.8) on the wire. Min-SE is 90 s by RFC, so this
 * file takes about a minute: both cases run at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { connectApp, request, startEngine, statusOf, udpPeer, waitFor, type RawPeer, type RunningEngine } from './engine-fixture';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

let running: RunningEngine;
let srf: Srf;
const destroyed: string[] = [];

beforeAll(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
  srf.invite(async (req, res) => {
    const dlg = await srf.createUAS(req, res, { localSdp: SDP });
    dlg.on('destroy', (_m: unknown, reason: string) => destroyed.push(`${req.get('Call-ID')}:${reason}`));
  });
});

afterAll(async () => {
  srf.disconnect();
  await running.stop();
});

function header(msg: string, name: string): string | undefined {
  return new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(msg)?.[1];
}

/** Answer an in-dialog request from the engine with 200 (with SDP for INVITE). */
function answer(peer: RawPeer, req: string): void {
  const lines = ['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(req, h)}`);
  const isInvite = req.startsWith('INVITE');
  const body = isInvite ? SDP : '';
  const extra = isInvite ? `Contact: <sip:alice@127.0.0.1:${peer.port}>\r\nSession-Expires: 90;refresher=uac\r\nRequire: timer\r\nContent-Type: application/sdp\r\n` : '';
  peer.send(`SIP/2.0 200 OK\r\n${lines.join('\r\n')}\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`);
}

async function call(peer: RawPeer, refresher: 'uac' | 'uas'): Promise<{ ok: string; callId: string }> {
  const invite = request('INVITE', { port: peer.port, body: SDP, extra: `Supported: timer\r\nSession-Expires: 90;refresher=${refresher}\r\n` });
  const callId = header(invite, 'Call-ID')!;
  peer.send(invite);
  const ok = await peer.next((m) => statusOf(m) === 200 && m.includes(callId));
  const ack = `ACK sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-ack-${refresher}\r\nMax-Forwards: 70\r\nFrom: ${header(ok, 'From')}\r\nTo: ${header(ok, 'To')}\r\nCall-ID: ${callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`;
  peer.send(ack);
  return { ok, callId };
}

describe('session timers (RFC 4028)', () => {
  it('refreshes when we are the refresher and hangs up when the peer fails to refresh', async () => {
    const refreshing = await udpPeer(running.port('udp'));
    const silent = await udpPeer(running.port('udp'));
    const a = await call(refreshing, 'uas');
    const b = await call(silent, 'uac');
    expect(header(a.ok, 'Session-Expires')).toBe('90;refresher=uas');
    expect(header(b.ok, 'Session-Expires')).toBe('90;refresher=uac');

    // We refresh: a re-INVITE with our SDP at about half the interval (40-45 s).
    const reinvite = await refreshing.next((m) => m.startsWith('INVITE '), 50_000);
    expect(header(reinvite, 'Session-Expires')).toMatch(/^90;\s*refresher=uac$/);
    expect(header(reinvite, 'Min-SE')).toBe('90');
    expect(reinvite).toContain('m=audio 4000 RTP/AVP 0');
    answer(refreshing, reinvite);
    const ack = await refreshing.next((m) => m.startsWith('ACK '), 5000);
    expect(header(ack, 'CSeq')).toBe(header(reinvite, 'CSeq')!.replace('INVITE', 'ACK'));

    // They refresh and don't: BYE at 90 - min(32, 90/3) = 60 s after the 200.
    const bye = await silent.next((m) => m.startsWith('BYE '), 30_000);
    expect(header(bye, 'Reason')).toContain('Session timer expired');
    answer(silent, bye);
    await waitFor(() => destroyed.includes(`${b.callId}:Session timer expired`), 5000, 'app told of the expiry');
    expect(destroyed.some((d) => d.startsWith(a.callId))).toBe(false);
    refreshing.close();
    silent.close();
  }, 90_000);
});
