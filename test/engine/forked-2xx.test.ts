/**
 * RFC 3261 §13.2.2.4: a UAC that gets 2xx responses from more than one fork must ACK each; the
 * engine keeps the first dialog for the app and hangs the other fork up (ACK + BYE).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { connectApp, header, respondTo, SDP, startEngine, udpPeer, type RunningEngine } from './engine-fixture';

let running: RunningEngine;
let srf: Srf;

beforeEach(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
});
afterEach(async () => {
  srf.disconnect();
  await running.stop();
});

describe('forked 2xx responses', () => {
  it('ACKs and BYEs a second fork that answers after the first', async () => {
    const peer = await udpPeer(running.port('udp'));
    const uac = srf.createUAC(`sip:bob@127.0.0.1:${peer.port}`, { localSdp: SDP });
    const invite = await peer.next((m) => m.startsWith('INVITE '));
    const contact = `<sip:bob@127.0.0.1:${peer.port}>`;
    peer.send(respondTo(invite, 200, 'OK', { toTag: 'fork-a', body: SDP, contact }));
    const dialog = await uac;
    const ackA = await peer.next((m) => m.startsWith('ACK ') && /tag=fork-a/.test(header(m, 'To') ?? ''));
    expect(ackA).toBeTruthy();
    peer.send(respondTo(invite, 200, 'OK', { toTag: 'fork-b', body: SDP, contact }));
    const ackB = await peer.next((m) => m.startsWith('ACK ') && /tag=fork-b/.test(header(m, 'To') ?? ''));
    expect(header(ackB, 'CSeq')).toBe(header(invite, 'CSeq')!.replace('INVITE', 'ACK'));
    const byeB = await peer.next((m) => m.startsWith('BYE ') && /tag=fork-b/.test(header(m, 'To') ?? ''));
    expect(header(byeB, 'Call-ID')).toBe(header(invite, 'Call-ID'));
    peer.send(respondTo(byeB, 200, 'OK'));
    // The first fork's dialog is untouched and still the app's.
    expect(dialog.sip.remoteTag).toBe('fork-a');
    expect(running.engine.dialogs.size).toBe(1);
    dialog.destroy();
    const byeA = await peer.next((m) => m.startsWith('BYE ') && /tag=fork-a/.test(header(m, 'To') ?? ''));
    peer.send(respondTo(byeA, 200, 'OK'));
    peer.close();
  });
});
