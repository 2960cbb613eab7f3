/**
 * RFC 3261 §17 retransmission rules on UDP, read off the wire with T1 = 50 ms: server
 * transactions absorb retransmitted requests and repeat their last response; Timer G repeats a
 * non-2xx final until the ACK; the client INVITE transaction retransmits on Timer A and gives
 * up with 408 on Timer B.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, ackTo, connectApp, cseqMethodOf, header, methodOf, request, routed, startEngine, statusOf, udpPeer, waitFor, type RawPeer, type RunningEngine,
} from './engine-fixture';

let running: RunningEngine | undefined;
let srf: Srf | undefined;
let peer: RawPeer | undefined;

afterEach(async () => {
  peer?.close();
  srf?.disconnect();
  await running?.stop();
  peer = srf = running = undefined;
});

async function setup(timers?: { t1: number; t2: number; t4: number }): Promise<{ srf: Srf; peer: RawPeer; running: RunningEngine }> {
  running = await startEngine(timers ? { timers } : {});
  srf = await connectApp(running.engine);
  peer = await udpPeer(running.port('udp'));
  return { srf, peer, running };
}

const countStatus = (p: RawPeer, status: number, method = 'INVITE') => p.received.filter((m) => statusOf(m) === status && cseqMethodOf(m) === method).length;

describe('server transactions (UAS side)', () => {
  it('an INVITE retransmitted before the app answers gets 100 Trying again and reaches the app once', async () => {
    const { srf, peer, running } = await setup();
    const invites: Array<{ res: { send(s: number): void } }> = [];
    const options: string[] = [];
    srf.invite((_req, res) => invites.push({ res: res as never }));
    srf.use('options', (req, res) => {
      options.push(req.get('Call-ID'));
      res.send(200);
    });
    await routed(running.engine, 'invite', 'options');
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    const trying = await peer.next((m) => statusOf(m) === 100);
    await waitFor(() => invites.length === 1, 3000, 'INVITE at the app');
    peer.send(invite);
    peer.send(invite);
    await waitFor(() => countStatus(peer, 100) === 3, 3000, '100 for each copy');
    expect(peer.received.filter((m) => statusOf(m) === 100).every((m) => m === trying)).toBe(true);
    // Barrier: a later request from the same socket reaching the app means the copies were handled.
    const opt = request('OPTIONS', { port: peer.port });
    peer.send(opt);
    await waitFor(() => options.length === 1, 3000, 'OPTIONS at the app');
    expect(invites).toHaveLength(1);
    await peer.next((m) => statusOf(m) === 200 && cseqMethodOf(m) === 'OPTIONS');
    expect(running.engine.incoming.size).toBe(1); // only the INVITE, held once
    invites[0].res.send(486);
    const busy = await peer.next((m) => statusOf(m) === 486);
    peer.send(ackTo(invite, busy));
  });

  it('an INVITE retransmitted after a 486 gets the 486 again, not Timer G', async () => {
    // T1 = 1 s: the first Timer G copy is a second away, so a 486 within 400 ms answers the copy.
    const { srf, peer, running } = await setup({ t1: 1000, t2: 4000, t4: 5000 });
    let seen = 0;
    srf.invite((_req, res) => {
      seen++;
      res.send(486);
    });
    await routed(running.engine, 'invite');
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    const busy = await peer.next((m) => statusOf(m) === 486);
    peer.send(invite);
    const again = await peer.next((m) => statusOf(m) === 486, 400);
    expect(again).toBe(busy);
    expect(seen).toBe(1);
    peer.send(ackTo(invite, busy));
  });

  it('Timer G repeats a 486 at T1, 2T1, 4T1 ... capped at T2, and the ACK stops it at once', async () => {
    const { srf, peer, running } = await setup();
    srf.invite((_req, res) => res.send(486));
    await routed(running.engine, 'invite');
    const invite = request('INVITE', { port: peer.port, body: SDP });
    const t0 = Date.now();
    peer.send(invite);
    const busy = await peer.next((m) => statusOf(m) === 486);
    const at: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(await peer.next((m) => statusOf(m) === 486, 2000)).toBe(busy);
      at.push(Date.now() - t0);
    }
    // Copies due 50, 150, 350, 750, 1150, 1550 ms after the 486 (T1 = 50, T2 = 400). Measured from
    // before the INVITE went out, so a late receive can only make them look later, never earlier.
    [50, 150, 350, 750, 1150, 1550].forEach((due, i) => expect(at[i], `copy ${i + 1} at ${at.join(',')}`).toBeGreaterThanOrEqual(due - 5));
    // Doubling past T2 would put the sixth copy at 3150 ms.
    expect(at[5], `capped at T2: ${at.join(',')}`).toBeLessThan(2600);
    peer.send(ackTo(invite, busy));
    // The ACK moves the transaction to Confirmed; Timer I (T4 = 500 ms) then ends it. The next
    // Timer G copy was due 400 ms after the last one, so it would have shown up before that.
    await waitFor(() => running.engine.txns.size.server === 0, 2000, 'transaction ended by Timer I');
    expect(countStatus(peer, 486)).toBe(7);
  });

  it('an OPTIONS retransmitted before the answer is absorbed; after it, gets the same final again (Timer J)', async () => {
    const { srf, peer, running } = await setup();
    let seen = 0;
    let answer: (() => void) | undefined;
    srf.use('options', (_req, res) => {
      seen++;
      answer = () => res.send(200, { headers: { 'X-Seen': String(seen) } });
    });
    await routed(running.engine, 'options');
    const opt = request('OPTIONS', { port: peer.port });
    peer.send(opt);
    await waitFor(() => answer !== undefined, 3000, 'OPTIONS at the app');
    // §17.2.2 Trying state: a retransmission gets nothing (no provisional was sent) and is not
    // handed to the app again. Barrier: a later INVITE from the same socket gets its 100 first.
    peer.send(opt);
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    await peer.next((m) => statusOf(m) === 100);
    expect(peer.received.filter((m) => cseqMethodOf(m) === 'OPTIONS')).toEqual([]);
    expect(seen).toBe(1);
    answer!();
    const ok = await peer.next((m) => statusOf(m) === 200);
    expect(header(ok, 'X-Seen')).toBe('1');
    peer.send(opt);
    const again = await peer.next((m) => statusOf(m) === 200);
    expect(again).toBe(ok);
    expect(seen).toBe(1);
    // Non-INVITE server transactions never retransmit on their own.
    expect(countStatus(peer, 200, 'OPTIONS')).toBe(2);
  });
});

describe('client INVITE transaction (UAC side)', () => {
  it('retransmits an unanswered INVITE on Timer A and reports 408 after Timer B (64*T1)', async () => {
    const { srf, peer, running } = await setup();
    const arrivals: number[] = [];
    const t0 = Date.now();
    const result = srf
      .createUAC(`sip:bob@127.0.0.1:${peer.port}`, { localSdp: SDP })
      .then(() => ({ status: 200, at: Date.now() }), (e: { status?: number }) => ({ status: e.status, at: Date.now() }));
    const first = await peer.next((m) => methodOf(m) === 'INVITE');
    arrivals.push(Date.now());
    const second = await peer.next((m) => methodOf(m) === 'INVITE', 2000);
    arrivals.push(Date.now());
    expect(second).toBe(first); // byte-identical retransmission, same branch
    expect(arrivals[1] - t0).toBeGreaterThanOrEqual(45); // T1 after the first transmission
    expect(arrivals[1] - arrivals[0]).toBeLessThan(500);

    const { status, at } = await result;
    expect(status).toBe(408);
    // Timer B = 64 * 50 ms = 3.2 s after the first transmission.
    expect(at - t0).toBeGreaterThanOrEqual(3100);
    expect(at - t0).toBeLessThan(8000);
    const copies = peer.received.filter((m) => methodOf(m) === 'INVITE').length;
    // Sent at 0, 50, 150, 350, 750, 1550 and 3150 ms: no T2 cap for INVITE requests (§17.1.1.2).
    expect(copies).toBeGreaterThanOrEqual(6);
    expect(copies).toBeLessThanOrEqual(7);
    expect(peer.received.some((m) => methodOf(m) === 'CANCEL' || methodOf(m) === 'ACK')).toBe(false);
    expect(running.engine.outgoing.size).toBe(0);
    expect(running.engine.dialogs.size).toBe(0);
  }, 15_000);
});
