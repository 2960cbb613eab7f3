/**
 * CANCEL of an INVITE the app sent (RFC 3261 §9.1, drachtio-protocol §4.5, §10.4): the CANCEL
 * is held until a provisional arrives, mirrors the INVITE, the engine ACKs the 487 itself,
 * and a 200 that wins the race against the CANCEL is ACKed and then torn down with BYE.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, branchOf, connectApp, destroyReason, header, methodOf, respondTo, startEngine, statusOf, udpPeer, waitFor, type RawPeer, type RunningEngine,
} from './engine-fixture';

let running: RunningEngine;
let srf: Srf;
let peer: RawPeer;

beforeEach(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
  peer = await udpPeer(running.port('udp'));
});
afterEach(async () => {
  peer.close();
  srf.disconnect();
  await running.stop();
});

interface UacReq {
  cancel(opts?: { headers?: Record<string, string> }, cb?: (err: Error | undefined, cancel: unknown) => void): void;
}

/**
 * Everything the app asked for before now has reached the wire: an OPTIONS sent on the same
 * control connection arrives after it (and is answered so no transaction is left behind).
 */
async function barrier(): Promise<void> {
  const done = (srf.request as unknown as (uri: string, opts: object) => Promise<unknown>).call(srf, `sip:bob@127.0.0.1:${peer.port}`, { method: 'OPTIONS' });
  const opt = await peer.next((m) => methodOf(m) === 'OPTIONS');
  peer.send(respondTo(opt, 200, 'OK', { toTag: 'opt' }));
  await done;
  await waitFor(() => running.engine.outgoing.size === 0, 2000, 'OPTIONS done');
}

/** srf calls cbRequest(err, req) (its typings say (req)); req.cancel() is the app's CANCEL. */
interface Progress {
  cbRequest?: (err: unknown, req: UacReq) => void;
  cbProvisional?: (res: { status: number }) => void;
}
function createUAC(uri: string, progress: Progress): Promise<Srf.Dialog> {
  return srf.createUAC(uri, { localSdp: SDP }, progress as unknown as Parameters<Srf['createUAC']>[2]);
}

const count = (method: string) => peer.received.filter((m) => methodOf(m) === method).length;

describe('CANCEL on the UAC side', () => {
  it('holds the CANCEL until a provisional, then sends it; ACKs the 487 itself; the app sees 487', async () => {
    const cancelled: Array<Error | undefined> = [];
    const provisionals: number[] = [];
    const call = createUAC(`sip:bob@127.0.0.1:${peer.port}`, {
      cbRequest: (_err, req) => req.cancel({ headers: { Reason: 'SIP;cause=200;text="Call completed elsewhere"' } }, (err) => cancelled.push(err)),
      cbProvisional: (res) => provisionals.push(res.status),
    }).then(() => 0, (e: { status?: number }) => e.status ?? -1);

    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    // The engine has accepted the CANCEL command (OK echo) but must not send it yet (§9.1).
    await waitFor(() => cancelled.length === 1, 3000, 'CANCEL accepted by the engine');
    expect(cancelled[0]).toBeFalsy();
    // Timer A keeps retransmitting the INVITE meanwhile; give it three copies (~350 ms at T1 = 50 ms).
    await waitFor(() => count('INVITE') >= 4, 3000, 'INVITE retransmissions');
    expect(count('CANCEL')).toBe(0);

    peer.send(respondTo(invite, 180, 'Ringing', { toTag: 'bob' }));
    const cancel = await peer.next((m) => methodOf(m) === 'CANCEL');
    // §9.1: same Request-URI, Call-ID, From, To (untagged), top Via branch; CSeq number with CANCEL.
    expect(cancel.split('\r\n')[0]).toBe(invite.split('\r\n')[0].replace('INVITE', 'CANCEL'));
    expect(branchOf(cancel)).toBe(branchOf(invite));
    expect(header(cancel, 'Call-ID')).toBe(header(invite, 'Call-ID'));
    expect(header(cancel, 'From')).toBe(header(invite, 'From'));
    expect(header(cancel, 'To')).toBe(header(invite, 'To'));
    expect(header(cancel, 'CSeq')).toBe(`${parseInt(header(invite, 'CSeq')!, 10)} CANCEL`);
    expect(header(cancel, 'Reason')).toBe('SIP;cause=200;text="Call completed elsewhere"');
    expect(count('CANCEL')).toBe(1);

    peer.send(respondTo(cancel, 200, 'OK', { toTag: 'bob' }));
    const terminated = respondTo(invite, 487, 'Request Terminated', { toTag: 'bob' });
    peer.send(terminated);
    const ack = await peer.next((m) => methodOf(m) === 'ACK');
    // §17.1.1.3: the ACK for a non-2xx belongs to the INVITE transaction.
    expect(branchOf(ack)).toBe(branchOf(invite));
    expect(ack.split('\r\n')[0]).toBe(invite.split('\r\n')[0].replace('INVITE', 'ACK'));
    expect(header(ack, 'To')).toBe(header(terminated, 'To'));
    expect(header(ack, 'CSeq')).toBe(`${parseInt(header(invite, 'CSeq')!, 10)} ACK`);
    expect(await call).toBe(487);
    expect(provisionals).toEqual([180]);

    // A retransmitted 487 is ACKed again from the Completed state (§17.1.1.2).
    peer.send(terminated);
    await waitFor(() => count('ACK') === 2, 2000, 'second ACK');
    // srf ACKs every final response; the engine must not put that one on the wire. Barrier:
    // an OPTIONS sent afterwards on the same control connection reaches the peer first.
    await barrier();
    expect(count('ACK')).toBe(2);
    expect(peer.received.filter((m) => statusOf(m) > 0)).toEqual([]); // the engine never answers a response
    await waitFor(() => running.engine.dialogs.size === 0 && running.engine.outgoing.size === 0, 2000, 'no state left');
  });

  it('a final response before any provisional: the held CANCEL is never sent', async () => {
    const call = createUAC(`sip:bob@127.0.0.1:${peer.port}`, { cbRequest: (_e, r) => r.cancel() }).then(() => 0, (e: { status?: number }) => e.status ?? -1);
    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    await waitFor(() => [...running.engine.outgoing.values()].some((o) => o.cancelled), 2000, 'CANCEL requested');
    peer.send(respondTo(invite, 486, 'Busy Here', { toTag: 'bob' }));
    expect(await call).toBe(486);
    await peer.next((m) => methodOf(m) === 'ACK');
    await barrier();
    expect(count('CANCEL')).toBe(0);
  });

  it('a CANCEL after the provisional goes out at once', async () => {
    let req: UacReq | undefined;
    const call = createUAC(`sip:bob@127.0.0.1:${peer.port}`, { cbRequest: (_e, r) => (req = r) }).then(() => 0, (e: { status?: number }) => e.status ?? -1);
    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    peer.send(respondTo(invite, 183, 'Session Progress', { toTag: 'bob', body: SDP }));
    await waitFor(() => req !== undefined, 2000, 'request sent');
    await waitFor(() => [...running.engine.outgoing.values()].some((o) => o.txn.state === 'proceeding'), 2000, '183 seen');
    req!.cancel();
    const cancel = await peer.next((m) => methodOf(m) === 'CANCEL');
    expect(branchOf(cancel)).toBe(branchOf(invite));
    peer.send(respondTo(cancel, 200, 'OK'));
    peer.send(respondTo(invite, 487, 'Request Terminated', { toTag: 'bob' }));
    expect(await call).toBe(487);
    expect(branchOf(await peer.next((m) => methodOf(m) === 'ACK'))).toBe(branchOf(invite));
  });

  it('cancel/200 race: the 200 is ACKed by the app, then the engine sends BYE (ACK-BYE due to cancel race condition)', async () => {
    let req: UacReq | undefined;
    const call = createUAC(`sip:bob@127.0.0.1:${peer.port}`, {
      cbRequest: (_e, r) => (req = r),
      cbProvisional: () => req!.cancel(),
    });
    const invite = await peer.next((m) => methodOf(m) === 'INVITE');
    peer.send(respondTo(invite, 180, 'Ringing', { toTag: 'bob' }));
    const cancel = await peer.next((m) => methodOf(m) === 'CANCEL');
    peer.send(respondTo(cancel, 200, 'OK', { toTag: 'bob' }));
    // The callee had already answered: 200 to the INVITE instead of 487.
    const ok = respondTo(invite, 200, 'OK', { toTag: 'bob', contact: `<sip:bob@127.0.0.1:${peer.port}>`, body: SDP });
    peer.send(ok);
    const dlg = await call;
    const destroyed = destroyReason(dlg);

    const ack = await peer.next((m) => methodOf(m) === 'ACK');
    expect(branchOf(ack)).not.toBe(branchOf(invite)); // 2xx ACK is its own transaction (§13.2.2.4)
    expect(header(ack, 'To')).toBe(header(ok, 'To'));
    const bye = await peer.next((m) => methodOf(m) === 'BYE');
    expect(peer.received.indexOf(ack)).toBeLessThan(peer.received.indexOf(bye));
    expect(header(bye, 'Reason')).toBe('SIP ;cause=200 ;text="ACK-BYE due to cancel race condition"');
    expect(bye.startsWith(`BYE sip:bob@127.0.0.1:${peer.port} SIP/2.0\r\n`)).toBe(true);
    expect(header(bye, 'To')).toBe(header(ok, 'To'));
    expect(parseInt(header(bye, 'CSeq')!, 10)).toBeGreaterThan(parseInt(header(invite, 'CSeq')!, 10));
    peer.send(respondTo(bye, 200, 'OK'));
    expect(await destroyed).toBe('ACK-BYE due to cancel race condition');
    await waitFor(() => running.engine.dialogs.size === 0, 2000, 'dialog removed');
    expect(count('CANCEL')).toBe(1);
  });
});
