/**
 * Call detail records (drachtio-protocol §8) as a real drachtio-srf app receives them: which
 * record, which source, which role or reason, and which SIP message rides with it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, ackTo, cancelOf, connectApp, header, methodOf, request, respondTo, routed, startEngine, statusOf, udpPeer, waitFor, type RunningEngine,
} from './engine-fixture';

const TIME = /^\d{2}:\d{2}:\d{2}\.\d{6}$/;

interface Cdr {
  kind: 'attempt' | 'start' | 'stop';
  source: string;
  time: string;
  extra?: string;
  msg: { type: string; method?: string; status?: number; get(h: string): string };
}

let running: RunningEngine;
let srf: Srf;
let cdrs: Cdr[];

beforeEach(async () => {
  running = await startEngine({ cdrs: true });
  srf = await connectApp(running.engine);
  cdrs = [];
  const s = srf as unknown as { on(ev: string, fn: (...a: unknown[]) => void): void };
  s.on('cdr:attempt', (source, time, msg) => cdrs.push({ kind: 'attempt', source: source as string, time: time as string, msg: msg as Cdr['msg'] }));
  s.on('cdr:start', (source, time, role, msg) => cdrs.push({ kind: 'start', source: source as string, time: time as string, extra: role as string, msg: msg as Cdr['msg'] }));
  s.on('cdr:stop', (source, time, reason, msg) => cdrs.push({ kind: 'stop', source: source as string, time: time as string, extra: reason as string, msg: msg as Cdr['msg'] }));
  await routed(running.engine, 'cdr:attempt', 'cdr:start', 'cdr:stop');
});
afterEach(async () => {
  srf.disconnect();
  await running.stop();
});

const summary = () => cdrs.map((c) => [c.kind, c.source, c.extra ?? ''].join('/'));

describe('CDRs', () => {
  it('incoming call answered and hung up by the peer: attempt(network), start(application, uas), stop(network, normal-release)', async () => {
    srf.invite((req, res) => void srf.createUAS(req, res, { localSdp: SDP }));
    await routed(running.engine, 'invite');
    const peer = await udpPeer(running.port('udp'));
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    const ok = await peer.next((m) => statusOf(m) === 200);
    peer.send(ackTo(invite, ok));
    await waitFor(() => cdrs.length === 2, 5000, 'attempt and start');
    const bye = ackTo(invite, ok).replace(/^ACK/, 'BYE').replace(/CSeq: \d+ ACK/, 'CSeq: 2 BYE').replace(/branch=z9hG4bK-ack-/, 'branch=z9hG4bK-bye-');
    peer.send(bye);
    expect(statusOf(await peer.next((m) => /CSeq: 2 BYE/.test(m)))).toBe(200);
    await waitFor(() => cdrs.length === 3, 5000, 'stop');

    expect(summary()).toEqual(['attempt/network/', 'start/application/uas', 'stop/network/normal-release']);
    for (const c of cdrs) expect(c.time).toMatch(TIME);
    const callId = header(invite, 'Call-ID');
    const [attempt, start, stop] = cdrs;
    expect(attempt.msg.type).toBe('request');
    expect(attempt.msg.method).toBe('INVITE');
    expect(attempt.msg.get('Call-ID')).toBe(callId);
    expect(start.msg.type).toBe('response');
    expect(start.msg.status).toBe(200);
    expect(start.msg.get('Call-ID')).toBe(callId);
    expect(start.msg.get('To')).toBe(header(ok, 'To'));
    expect(stop.msg.method).toBe('BYE');
    expect(stop.msg.get('Call-ID')).toBe(callId);
    peer.close();
  });

  it('incoming call rejected by the app: attempt(network), stop(application, call-rejected) carrying the final response', async () => {
    srf.invite((_req, res) => res.send(486));
    await routed(running.engine, 'invite');
    const peer = await udpPeer(running.port('udp'));
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    const busy = await peer.next((m) => statusOf(m) === 486);
    peer.send(ackTo(invite, busy));
    await waitFor(() => cdrs.length === 2, 5000, 'two CDRs');
    expect(summary()).toEqual(['attempt/network/', 'stop/application/call-rejected']);
    expect(cdrs[1].msg.status).toBe(486);
    expect(cdrs[1].msg.get('Call-ID')).toBe(header(invite, 'Call-ID'));
    expect(cdrs[1].time).toMatch(TIME);
    peer.close();
  });

  it('incoming call canceled by the peer: stop(network, call-canceled) carrying the CANCEL', async () => {
    let got = false;
    srf.invite(() => (got = true)); // never answered
    await routed(running.engine, 'invite');
    const peer = await udpPeer(running.port('udp'));
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    await waitFor(() => got, 5000, 'INVITE at the app');
    peer.send(cancelOf(invite));
    const terminated = await peer.next((m) => statusOf(m) === 487);
    peer.send(ackTo(invite, terminated));
    await waitFor(() => cdrs.length === 2, 5000, 'two CDRs');
    expect(summary()).toEqual(['attempt/network/', 'stop/network/call-canceled']);
    expect(cdrs[1].msg.method).toBe('CANCEL');
    expect(cdrs[1].msg.get('Call-ID')).toBe(header(invite, 'Call-ID'));
    peer.close();
  });

  it('an INVITE no app is routed for: attempt(network), then stop(application, call-rejected) with the 503', async () => {
    const peer = await udpPeer(running.port('udp'));
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    const unavailable = await peer.next((m) => statusOf(m) === 503);
    peer.send(ackTo(invite, unavailable));
    await waitFor(() => cdrs.length === 2, 5000, 'two CDRs');
    expect(summary()).toEqual(['attempt/network/', 'stop/application/call-rejected']);
    expect(cdrs[1].msg.status).toBe(503);
    peer.close();
  });

  it('outgoing call canceled by the app: the 487 gives stop(network, call-canceled)', async () => {
    const peer = await udpPeer(running.port('udp'));
    let req: { cancel(): void } | undefined;
    const progress = { cbRequest: (_e: unknown, r: { cancel(): void }) => (req = r), cbProvisional: () => req!.cancel() };
    const call = srf
      .createUAC(`sip:bob@127.0.0.1:${peer.port}`, { localSdp: SDP }, progress as never)
      .then(() => 0, (e: { status?: number }) => e.status);
    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    peer.send(respondTo(invite, 180, 'Ringing', { toTag: 'bob' }));
    const cancel = await peer.next((m) => methodOf(m) === 'CANCEL');
    peer.send(respondTo(cancel, 200, 'OK', { toTag: 'bob' }));
    peer.send(respondTo(invite, 487, 'Request Terminated', { toTag: 'bob' }));
    expect(await call).toBe(487);
    await waitFor(() => cdrs.length === 2, 5000, 'two CDRs');
    expect(summary()).toEqual(['attempt/application/', 'stop/network/call-canceled']);
    expect(cdrs[1].msg.status).toBe(487);
    peer.close();
  });

  it('outgoing call from the app: attempt(application) with the INVITE as sent, start(network, uac) with the 200, stop(application) on BYE', async () => {
    const peer = await udpPeer(running.port('udp'));
    const calling = srf.createUAC(`sip:bob@127.0.0.1:${peer.port}`, { localSdp: SDP });
    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    peer.send(respondTo(invite, 200, 'OK', { toTag: 'callee', contact: `<sip:bob@127.0.0.1:${peer.port}>`, body: SDP }));
    const dlg = await calling;
    await peer.next((m) => methodOf(m) === 'ACK');
    await waitFor(() => cdrs.length === 2, 5000, 'attempt and start');
    expect(summary()).toEqual(['attempt/application/', 'start/network/uac']);
    const [attempt, start] = cdrs;
    expect(attempt.msg.method).toBe('INVITE');
    // The attempt carries the request as it went on the wire (Via, tags, Call-ID the engine chose).
    expect(attempt.msg.get('Via')).toBe(header(invite, 'Via'));
    expect(attempt.msg.get('From')).toBe(header(invite, 'From'));
    expect(start.msg.status).toBe(200);
    expect(start.msg.get('To')).toMatch(/;tag=callee/);

    const destroyed = dlg.destroy();
    const bye = await peer.next((m) => methodOf(m) === 'BYE');
    peer.send(respondTo(bye, 200, 'OK'));
    await destroyed;
    await waitFor(() => cdrs.length === 3, 5000, 'stop');
    expect(summary()[2]).toBe('stop/application/normal-release');
    expect(cdrs[2].msg.method).toBe('BYE');
    peer.close();
  });

  it('outgoing call rejected by the peer: stop(network, call-rejected) carrying the failure', async () => {
    const peer = await udpPeer(running.port('udp'));
    const rejected = srf.createUAC(`sip:bob@127.0.0.1:${peer.port}`, { localSdp: SDP }).catch((e: { status?: number }) => e.status);
    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    peer.send(respondTo(invite, 404, 'Not Found', { toTag: 'x' }));
    expect(await rejected).toBe(404);
    await waitFor(() => cdrs.length === 2, 5000, 'two CDRs');
    expect(summary()).toEqual(['attempt/application/', 'stop/network/call-rejected']);
    expect(cdrs[1].msg.status).toBe(404);
    peer.close();
  });
});
