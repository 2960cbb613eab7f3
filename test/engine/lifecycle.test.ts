/**
 * Engine behaviour read off the wire: 100 Trying, 2xx retransmission until ACK, ACK timeout
 * BYE, BYE handling, and no state left behind when clients or apps disconnect mid-way.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { connectApp, request, startEngine, statusOf, tcpPeer, udpPeer, waitFor, type RunningEngine } from './engine-fixture';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

let running: RunningEngine;
let apps: Srf[] = [];

beforeEach(async () => {
  running = await startEngine();
});
afterEach(async () => {
  for (const a of apps) a.disconnect();
  apps = [];
  await running.stop();
});

async function app(): Promise<Srf> {
  const srf = await connectApp(running.engine);
  apps.push(srf);
  return srf;
}

function ackFor(resp: string, port: number): string {
  const to = /\r\nTo: ([^\r\n]+)/i.exec(resp)![1];
  const from = /\r\nFrom: ([^\r\n]+)/i.exec(resp)![1];
  const callId = /\r\nCall-ID: ([^\r\n]+)/i.exec(resp)![1];
  const cseq = /\r\nCSeq: (\d+)/i.exec(resp)![1];
  return `ACK sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-ack-${Date.now()}\r\nMax-Forwards: 70\r\nFrom: ${from}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`;
}

function byeFor(resp: string, port: number, cseq = 2): string {
  return ackFor(resp, port).replace(/^ACK/, 'BYE').replace(/CSeq: \d+ ACK/, `CSeq: ${cseq} BYE`).replace(/branch=z9hG4bK-ack-/, 'branch=z9hG4bK-bye-');
}

describe('engine lifecycle on the wire', () => {
  it('answers 503 when no app is registered for the method', async () => {
    const peer = await udpPeer(running.port('udp'));
    peer.send(request('OPTIONS', { port: peer.port }));
    expect(statusOf(await peer.next())).toBe(503);
    peer.close();
  });

  it('sends 100 Trying at once, retransmits the 2xx until ACK, hands ACK and BYE to the app', async () => {
    const srf = await app();
    const events: string[] = [];
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP });
      dlg.on('ack', () => events.push('ack'));
      dlg.on('destroy', () => events.push('destroy'));
    });
    const peer = await udpPeer(running.port('udp'));
    peer.send(request('INVITE', { port: peer.port, body: SDP }));
    expect(statusOf(await peer.next())).toBe(100);
    const ok = await peer.next((m) => statusOf(m) === 200);
    expect(ok).toMatch(/\r\nContact: <sip:127\.0\.0\.1:\d+>/);
    expect(ok).toMatch(/\r\nTo: [^\r\n]*;tag=/);
    // Timer G: the same 200 again while no ACK arrives (T1 = 50 ms here).
    const again = await peer.next((m) => statusOf(m) === 200, 2000);
    expect(again.split('\r\n\r\n')[0]).toBe(ok.split('\r\n\r\n')[0]);
    peer.send(ackFor(ok, peer.port));
    await waitFor(() => running.engine.dialogs.size === 1 && events.includes('ack'), 2000, 'ACK delivered');
    const countAfterAck = peer.received.filter((m) => statusOf(m) === 200).length;
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.received.filter((m) => statusOf(m) === 200).length).toBe(countAfterAck);
    peer.send(byeFor(ok, peer.port));
    expect(statusOf(await peer.next((m) => /CSeq: 2 BYE/.test(m)))).toBe(200);
    await waitFor(() => events.includes('destroy'), 2000, 'destroy');
    expect(running.engine.dialogs.size).toBe(0);
    expect(running.engine.incoming.size).toBe(0);
    peer.close();
  });

  it('tears the call down with BYE (Reason: ACK timeout) when no ACK comes', async () => {
    const srf = await app();
    let reason = '';
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP });
      dlg.on('destroy', (_msg: unknown, r: string) => (reason = r));
    });
    const peer = await udpPeer(running.port('udp'));
    peer.send(request('INVITE', { port: peer.port, body: SDP }));
    const bye = await peer.next((m) => m.startsWith('BYE '), 8000);
    expect(bye).toMatch(/Reason: SIP ;cause=200 ;text="ACK timeout"/);
    await waitFor(() => reason === 'ACK timeout', 2000, 'destroy with ACK timeout');
    expect(running.engine.dialogs.size).toBe(0);
    peer.close();
  });

  it('leaves no state when a TCP client disconnects before the app answers', async () => {
    const srf = await app();
    const results: string[] = [];
    srf.invite((req, res) => {
      setTimeout(() => {
        srf.createUAS(req, res, { localSdp: SDP }).then(() => results.push('answered'), (e: Error) => results.push(`failed: ${e.message}`));
      }, 200);
    });
    const peer = await tcpPeer(running.port('tcp'));
    peer.send(request('INVITE', { port: peer.port, proto: 'TCP', body: SDP }));
    expect(statusOf(await peer.next())).toBe(100);
    peer.close();
    await waitFor(() => results.length === 1, 3000, 'app answer attempt');
    expect(results[0]).toMatch(/failed/);
    await waitFor(() => running.engine.incoming.size === 0 && running.engine.dialogs.size === 0, 5000, 'state drained');
  });

  it('answers a BYE itself and drops the dialog when the owning app is gone', async () => {
    const srf = await app();
    srf.invite((req, res) => void srf.createUAS(req, res, { localSdp: SDP }));
    const peer = await udpPeer(running.port('udp'));
    peer.send(request('INVITE', { port: peer.port, body: SDP }));
    const ok = await peer.next((m) => statusOf(m) === 200);
    peer.send(ackFor(ok, peer.port));
    await waitFor(() => running.engine.dialogs.size === 1, 2000, 'dialog');
    srf.disconnect();
    apps = [];
    await waitFor(() => running.engine.control.registry.size === 0, 2000, 'app gone');
    peer.send(byeFor(ok, peer.port));
    expect(statusOf(await peer.next((m) => /CSeq: 2 BYE/.test(m)))).toBe(200);
    expect(running.engine.dialogs.size).toBe(0);
    peer.close();
  });

  it('answers 481 to a BYE for an unknown dialog and 400 to a request missing Call-ID', async () => {
    await app();
    const peer = await udpPeer(running.port('udp'));
    peer.send(request('BYE', { port: peer.port, toTag: 'nope' }));
    expect(statusOf(await peer.next())).toBe(481);
    peer.send(request('OPTIONS', { port: peer.port }).replace(/Call-ID: [^\r\n]+\r\n/, ''));
    // Without Call-ID there is nothing to build a response from except when the parser keeps the rest.
    await new Promise((r) => setTimeout(r, 200));
    peer.send(request('OPTIONS', { port: peer.port, extra: 'Max-Forwards: abc\r\n' }).replace('Max-Forwards: 70\r\n', ''));
    expect(statusOf(await peer.next((m) => /OPTIONS/.test(m)))).toBe(400);
    peer.close();
  });
});
