/**
 * Reliable provisional responses sent by an app (RFC 3262, drachtio-protocol §4.6, §10.6): RSeq,
 * retransmission until PRACK, PRACK delivered to the app and answered, and the refusal when the
 * caller never said it supports 100rel.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, ackTo, connectApp, cseqMethodOf, header, headers, request, routed, startEngine, statusOf, udpPeer, waitFor, type RawPeer, type RunningEngine,
} from './engine-fixture';

type Res = { send(status: number, opts?: unknown, cb?: (err: unknown, msg?: unknown) => void): void };

let running: RunningEngine;
let srf: Srf;
let peer: RawPeer;
let answer: (res: Res) => void;
let pracks: Array<{ method: string; rack: string; dialogId: string }>;

beforeEach(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
  pracks = [];
  // Watch PRACKs pass by; srf's own fallback then answers them 200 (drachtio-protocol §13).
  srf.use((req, _res, next) => {
    const r = req as unknown as { method: string; get(h: string): string; stackDialogId: string };
    if (r.method === 'PRACK') pracks.push({ method: r.method, rack: r.get('RAck'), dialogId: r.stackDialogId });
    next();
  });
  srf.invite((_req, res) => answer(res as unknown as Res));
  await routed(running.engine, 'invite');
  peer = await udpPeer(running.port('udp'));
});
afterEach(async () => {
  peer.close();
  srf.disconnect();
  await running.stop();
});

/** PRACK from the raw UAC for a reliable provisional (RFC 3262 §7.2). */
function prackFor(invite: string, prov: string, cseq: number): string {
  const rseq = header(prov, 'RSeq');
  const inviteSeq = parseInt(header(invite, 'CSeq')!, 10);
  const target = /<([^>]+)>/.exec(header(prov, 'Contact')!)![1];
  return (
    `PRACK ${target} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-prack-${Date.now()};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: ${header(invite, 'From')}\r\nTo: ${header(prov, 'To')}\r\nCall-ID: ${header(invite, 'Call-ID')}\r\n` +
    `CSeq: ${cseq} PRACK\r\nRAck: ${rseq} ${inviteSeq} INVITE\r\nContent-Length: 0\r\n\r\n`
  );
}

const reliable = (m: string) => statusOf(m) === 183;

describe('100rel on the UAS side', () => {
  it('a 183 with Require: 100rel gets RSeq, is retransmitted until PRACK, and the PRACK reaches the app', async () => {
    let res!: Res;
    const echoes: Array<unknown> = [];
    answer = (r) => {
      res = r;
      r.send(183, { headers: { Require: '100rel', RSeq: '77' }, body: SDP }, (err, msg) => echoes.push(err ?? msg));
    };
    const invite = request('INVITE', { port: peer.port, body: SDP, extra: 'Supported: 100rel, timer\r\n' });
    peer.send(invite);
    const prov = await peer.next(reliable);
    expect(header(prov, 'RSeq')).toMatch(/^\d+$/);
    expect(header(prov, 'RSeq')).not.toBe('77'); // the app's RSeq is replaced (§4.7)
    expect(headers(prov, 'Require').join(',')).toMatch(/100rel/);
    expect(header(prov, 'Contact')).toMatch(/^<sip:127\.0\.0\.1:\d+>$/); // reliable 1xx carries a Contact (§4.6)
    expect(header(prov, 'To')).toMatch(/;tag=/);
    await waitFor(() => echoes.length === 1, 2000, 'echo');
    expect(echoes[0]).not.toBeTypeOf('string');

    // RFC 3262 §3: retransmitted at T1, 2T1, ... while no PRACK comes.
    expect(await peer.next(reliable, 1000)).toBe(prov);
    expect(await peer.next(reliable, 1000)).toBe(prov);

    peer.send(prackFor(invite, prov, 2));
    const prackOk = await peer.next((m) => cseqMethodOf(m) === 'PRACK' && statusOf(m) > 0);
    expect(statusOf(prackOk)).toBe(200);
    expect(header(prackOk, 'To')).toBe(header(prov, 'To'));
    await waitFor(() => pracks.length === 1, 2000, 'PRACK at the app');
    const fromTag = /;tag=([^;\s]+)/.exec(header(invite, 'From')!)![1];
    expect(pracks[0]).toEqual({ method: 'PRACK', rack: `${header(prov, 'RSeq')} 1 INVITE`, dialogId: `${header(invite, 'Call-ID')};from-tag=${fromTag}` });

    // The PRACK stopped the retransmissions (copies at 0, 50, 150 ms, the next due at 350 ms): at
    // most one already on its way arrives in a 600 ms window.
    expect([...running.engine.incoming.values()].some((p) => p.reliable)).toBe(false);
    const copies = peer.received.filter(reliable).length;
    await new Promise((r) => setTimeout(r, 600));
    expect(peer.received.filter(reliable).length).toBeLessThanOrEqual(copies + 1);

    const ok = new Promise<unknown>((resolve) => res.send(200, { body: SDP }, (err, msg) => resolve(err ?? msg)));
    const final = await peer.next((m) => statusOf(m) === 200 && cseqMethodOf(m) === 'INVITE');
    expect(header(final, 'To')).toBe(header(prov, 'To')); // same dialog as the early one
    expect(await ok).not.toBeTypeOf('string');
    peer.send(ackTo(invite, final));
    await waitFor(() => running.engine.dialogs.get(pracks[0].dialogId)?.state === 'confirmed', 2000, 'confirmed');
  });

  it('a second reliable provisional gets the next RSeq', async () => {
    let res!: Res;
    answer = (r) => {
      res = r;
      r.send(180, { headers: { Require: '100rel' } });
    };
    const invite = request('INVITE', { port: peer.port, body: SDP, extra: 'Require: 100rel\r\n' });
    peer.send(invite);
    const first = await peer.next((m) => statusOf(m) === 180);
    peer.send(prackFor(invite, first, 2));
    await peer.next((m) => cseqMethodOf(m) === 'PRACK' && statusOf(m) === 200);
    res.send(183, { headers: { Require: '100rel' }, body: SDP });
    const second = await peer.next(reliable);
    expect(Number(header(second, 'RSeq'))).toBe(Number(header(first, 'RSeq')) + 1);
    peer.send(prackFor(invite, second, 3));
    await peer.next((m) => /CSeq: 3 PRACK/.test(m) && statusOf(m) === 200);
    await waitFor(() => pracks.length === 2, 2000, 'both PRACKs at the app');
    res.send(486);
    peer.send(ackTo(invite, await peer.next((m) => statusOf(m) === 486)));
    await waitFor(() => running.engine.dialogs.size === 0, 2000, 'early dialog removed');
  });

  it('a second reliable provisional waits until the first is PRACKed (RFC 3262 §3)', async () => {
    let res!: Res;
    const echoes: unknown[] = [];
    answer = (r) => {
      res = r;
      r.send(180, { headers: { Require: '100rel' } });
      r.send(183, { headers: { Require: '100rel' }, body: SDP }, (err, msg) => echoes.push(err ?? msg));
    };
    const invite = request('INVITE', { port: peer.port, body: SDP, extra: 'Supported: 100rel\r\n' });
    peer.send(invite);
    const ringing = await peer.next((m) => statusOf(m) === 180);
    await waitFor(() => echoes.length === 1, 2000, '183 accepted by the engine');
    expect(echoes[0]).not.toBeTypeOf('string');
    // The 180 keeps being retransmitted; the 183 is not sent meanwhile.
    await waitFor(() => peer.received.filter((m) => statusOf(m) === 180).length >= 3, 2000, '180 retransmitted');
    expect(peer.received.filter(reliable)).toEqual([]);

    peer.send(prackFor(invite, ringing, 2));
    await peer.next((m) => /CSeq: 2 PRACK/.test(m) && statusOf(m) === 200);
    const progress = await peer.next(reliable);
    expect(Number(header(progress, 'RSeq'))).toBe(Number(header(ringing, 'RSeq')) + 1);
    expect(header(progress, 'To')).toBe(header(ringing, 'To'));
    peer.send(prackFor(invite, progress, 3));
    await peer.next((m) => /CSeq: 3 PRACK/.test(m) && statusOf(m) === 200);
    await waitFor(() => pracks.length === 2, 2000, 'both PRACKs at the app');
    res.send(486);
    peer.send(ackTo(invite, await peer.next((m) => statusOf(m) === 486)));
  });

  it('no PRACK within 64*T1: the INVITE is rejected with a 5xx and retransmissions stop (RFC 3262 §3)', async () => {
    let res!: Res;
    answer = (r) => {
      res = r;
      r.send(183, { headers: { Require: '100rel' }, body: SDP });
    };
    const invite = request('INVITE', { port: peer.port, body: SDP, extra: 'Supported: 100rel\r\n' });
    const t0 = Date.now();
    peer.send(invite);
    const prov = await peer.next(reliable);
    // 64 * T1 = 3.2 s with T1 = 50 ms (sofia answers 503 "Reliable Response Time-Out").
    const rejected = await peer.next((m) => statusOf(m) >= 500 && cseqMethodOf(m) === 'INVITE', 6000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(statusOf(rejected)).toBe(503);
    expect(header(rejected, 'To')).toBe(header(prov, 'To'));
    peer.send(ackTo(invite, rejected));
    const copies = peer.received.filter(reliable).length;
    expect(running.engine.incoming.size).toBe(0);
    expect(running.engine.dialogs.size).toBe(0); // the early dialog went with the INVITE
    // The app can no longer answer; nothing more goes out for this INVITE.
    const late = await new Promise<unknown>((resolve) => res.send(200, { body: SDP }, (err, msg) => resolve(err ?? msg)));
    expect(late).toBe('Response not sent due to unknown transaction');
    expect(peer.received.filter(reliable).length).toBe(copies);
    expect(peer.received.some((m) => statusOf(m) === 200)).toBe(false);
  }, 15_000);

  it('a reliable 183 toward a caller that did not offer 100rel is refused and nothing is sent', async () => {
    let res!: Res;
    const result = new Promise<unknown>((resolve) => {
      answer = (r) => {
        res = r;
        r.send(183, { headers: { Require: '100rel' }, body: SDP }, (err, msg) => resolve(err ?? msg));
      };
    });
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    expect(await result).toBe('Remote endpoint does not support 100rel');
    // The call is still there to be answered normally.
    res.send(486);
    const busy = await peer.next((m) => statusOf(m) === 486);
    expect(peer.received.filter((m) => statusOf(m) > 100 && statusOf(m) < 200)).toEqual([]);
    peer.send(ackTo(invite, busy));
    expect(running.engine.dialogs.size).toBe(0);
  });
});
