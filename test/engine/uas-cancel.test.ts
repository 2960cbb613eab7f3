/**
 * CANCEL of an INVITE the engine delivered to an app (RFC 3261 §9.2, drachtio-protocol §10.1
 * quick cancel, §10.2 CANCEL after 200, §10.3): what the canceller sees on the wire and what
 * the app is told.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, ackTo, cancelOf, connectApp, destroyReason, cseqMethodOf, header, methodOf, request, respondTo, routed, startEngine, statusOf, udpPeer, waitFor,
  type RawPeer, type RunningEngine,
} from './engine-fixture';

type Res = { send(status: number, opts?: unknown, cb?: (err: unknown) => void): void };
type Req = { on(ev: 'cancel', fn: (msg: { method: string }) => void): void; get(h: string): string };

let running: RunningEngine;
let srf: Srf;
let peer: RawPeer;
let calls: Array<{ req: Req; res: Res; cancels: string[] }>;

beforeEach(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
  calls = [];
  srf.invite((req, res) => {
    const call = { req: req as unknown as Req, res: res as unknown as Res, cancels: [] as string[] };
    call.req.on('cancel', (msg) => call.cancels.push(msg.method));
    calls.push(call);
  });
  await routed(running.engine, 'invite');
  peer = await udpPeer(running.port('udp'));
});
afterEach(async () => {
  peer.close();
  srf.disconnect();
  await running.stop();
});

const isFinalTo = (method: string) => (m: string) => statusOf(m) >= 200 && cseqMethodOf(m) === method;

async function inviteDelivered(): Promise<string> {
  const invite = request('INVITE', { port: peer.port, body: SDP });
  peer.send(invite);
  expect(statusOf(await peer.next())).toBe(100);
  await waitFor(() => calls.length === 1, 3000, 'INVITE at the app');
  return invite;
}

/** The app's final answer after the cancel, reported through srf's callback. */
function lateAnswer(status: number): Promise<unknown> {
  return new Promise((resolve) => calls[0].res.send(status, { body: status === 200 ? SDP : undefined }, (err) => resolve(err ?? 'sent')));
}

describe('CANCEL on the UAS side', () => {
  it('before the app answered (quick cancel): 200 to CANCEL, 487 to INVITE, the app gets cancel', async () => {
    const invite = await inviteDelivered();
    peer.send(cancelOf(invite));
    const cancelOk = await peer.next(isFinalTo('CANCEL'));
    expect(statusOf(cancelOk)).toBe(200);
    expect(header(cancelOk, 'Via')).toContain(header(invite, 'Via')!.split(';')[0]);
    const terminated = await peer.next(isFinalTo('INVITE'));
    expect(statusOf(terminated)).toBe(487);
    expect(header(terminated, 'To')).toMatch(/;tag=\S+/);
    expect(header(terminated, 'CSeq')).toBe('1 INVITE');
    // §8.2.6.2: every non-100 response to a request without To tag carries one; §9.2: the same
    // tag in the response to the CANCEL and in the 487.
    expect(header(cancelOk, 'To')).toBe(header(terminated, 'To'));
    await waitFor(() => calls[0].cancels.length === 1, 3000, 'cancel event');
    expect(calls[0].cancels).toEqual(['CANCEL']);

    // The 487 is retransmitted (Timer G) until the ACK, which is absorbed by the transaction.
    await waitFor(() => peer.received.filter((x) => statusOf(x) === 487).length >= 2, 2000, '487 retransmitted');
    peer.send(ackTo(invite, terminated));
    expect(running.engine.incoming.size).toBe(0);
    // An answer from the app afterwards is refused and nothing goes on the wire.
    const late = await lateAnswer(200);
    expect(late).toBe('Response not sent due to unknown transaction');
    expect(peer.received.some((m) => statusOf(m) === 200 && cseqMethodOf(m) === 'INVITE')).toBe(false);
  });

  it('after the app sent 180: 200 to CANCEL, 487 with the 180 To tag, the app gets cancel', async () => {
    const invite = await inviteDelivered();
    calls[0].res.send(180);
    const ringing = await peer.next((m) => statusOf(m) === 180);
    const tag = /;tag=([^;\s]+)/.exec(header(ringing, 'To')!)![1];
    peer.send(cancelOf(invite));
    expect(statusOf(await peer.next(isFinalTo('CANCEL')))).toBe(200);
    const terminated = await peer.next(isFinalTo('INVITE'));
    expect(statusOf(terminated)).toBe(487);
    expect(header(terminated, 'To')).toContain(`;tag=${tag}`);
    expect(header(peer.received.find(isFinalTo('CANCEL'))!, 'To')).toContain(`;tag=${tag}`);
    await waitFor(() => calls[0].cancels.length === 1, 3000, 'cancel event');
    peer.send(ackTo(invite, terminated));
    expect(running.engine.dialogs.size).toBe(0); // no early dialog without a reliable 1xx
    const late = await lateAnswer(200);
    expect(late).toBe('Response not sent due to unknown transaction');
  });

  it('after the app sent 200: 481 to CANCEL, then BYE (CANCEL after 200 OK) and the dialog is destroyed', async () => {
    const invite = await inviteDelivered();
    const uas = srf.createUAS(calls[0].req as never, calls[0].res as never, { localSdp: SDP });
    const ok = await peer.next((m) => statusOf(m) === 200);
    const dlg = await uas;
    const destroyed = destroyReason(dlg);
    peer.send(cancelOf(invite));
    const cancelRes = await peer.next(isFinalTo('CANCEL'));
    expect(statusOf(cancelRes)).toBe(481);
    expect(header(cancelRes, 'To')).toMatch(/;tag=\S+/); // §8.2.6.2
    const bye = await peer.next((m) => methodOf(m) === 'BYE');
    expect(header(bye, 'Reason')).toBe('SIP ;cause=200 ;text="CANCEL after 200 OK"');
    expect(header(bye, 'Call-ID')).toBe(header(invite, 'Call-ID'));
    // The BYE comes from the callee side of the dialog: From is the 200's To (with our tag).
    expect(header(bye, 'From')).toBe(header(ok, 'To'));
    expect(bye.startsWith(`BYE sip:alice@127.0.0.1:${peer.port} SIP/2.0\r\n`)).toBe(true);
    peer.send(respondTo(bye, 200, 'OK'));
    expect(await destroyed).toBe('CANCEL after 200 OK');
    expect(running.engine.dialogs.size).toBe(0);
    expect(calls[0].cancels).toEqual([]); // the app learns about it from the BYE, not a cancel event
  });

  it('after the app rejected with 486: 200 to CANCEL with the 486 To tag, and nothing else changes (§9.2)', async () => {
    const invite = await inviteDelivered();
    calls[0].res.send(486);
    const busy = await peer.next(isFinalTo('INVITE'));
    expect(statusOf(busy)).toBe(486);
    peer.send(cancelOf(invite));
    const cancelOk = await peer.next(isFinalTo('CANCEL'));
    expect(statusOf(cancelOk)).toBe(200);
    expect(header(cancelOk, 'To')).toBe(header(busy, 'To'));
    peer.send(ackTo(invite, busy));
    expect(peer.received.filter((m) => statusOf(m) === 487)).toEqual([]);
  });

  it('a CANCEL matching no transaction gets 481', async () => {
    const stray = cancelOf(request('INVITE', { port: peer.port }));
    peer.send(stray);
    const res = await peer.next(isFinalTo('CANCEL'));
    expect(statusOf(res)).toBe(481);
    expect(header(res, 'Call-ID')).toBe(header(stray, 'Call-ID'));
    expect(header(res, 'To')).toMatch(/;tag=\S+/); // §8.2.6.2
    expect(calls).toHaveLength(0);
  });
});
