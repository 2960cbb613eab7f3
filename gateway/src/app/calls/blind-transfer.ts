/**
 * Blind transfer (RFC 3515 REFER, RFC 5589 §6): one party of a bridged call REFERs the other
 * (the transferee) to a new target. The gateway, being a B2BUA, carries it out itself: it calls
 * the target with the transferee's media (same rtpengine call, the target in the transferor's
 * place: party-swap.ts), re-INVITEs the transferee toward it, reports progress to the transferor
 * with NOTIFY (message/sipfrag), and hangs the transferor up. The target must be routable like
 * any call (no open relay). A target that does not answer within the ring timeout is CANCELled.
 *
 * A target user with several contacts has them all rung at once, like any call to them (the
 * first 2xx wins, the others are CANCELled), but only contacts of one kind: the newcomer gets one
 * rtpengine party, whose SDP is either for browsers or for SIP phones. The kind is that of the
 * router's first target.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { otherLeg, type LegId } from '../media/media-session';
import type { Router } from '../routing/router';
import { BridgedCall, hangUp, type CallEvents } from './bridged-call';
import type { CallRegistry } from './call-registry';
import { better } from './outbound-fork';
import { SwapFailed, swapParty } from './party-swap';
import { ReferProgress } from './refer-request';

const log = createLogger('transfer');

type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;

export interface TransferDeps {
  srf: Srf;
  router: Router;
  calls: CallRegistry;
  events: CallEvents;
  /** How long a target may ring before it is CANCELled (config calls.transferRingTimeoutSeconds). */
  ringTimeoutMs: number;
}

/** Dialogs in leg order (caller, callee) for a call whose `leg` is held by `dialog`. */
export function dialogsByLeg(leg: LegId, dialog: Srf.Dialog, other: Srf.Dialog): [Srf.Dialog, Srf.Dialog] {
  return leg === 'caller' ? [dialog, other] : [other, dialog];
}

/**
 * Who the far end of `dialog` is, as a From value for the target (the transferee is who calls
 * it): the caller's From, or the callee's To, without its tag.
 */
function identityOf(dialog: Srf.Dialog): string | undefined {
  const d = dialog as unknown as { type?: string; req?: { get(h: string): string | undefined }; res?: { get(h: string): string | undefined } };
  const value = d.type === 'uas' ? d.req?.get('From') : d.res?.get('To');
  return value?.replace(/;\s*tag=[^;>\s]*/i, '').trim() || undefined;
}

/**
 * INVITE to the transfer target; CANCELled (RFC 3261 §9.1) if the call ends meanwhile (the
 * transferee hung up while the target was ringing) or the target rings too long.
 */
async function callTarget(srf: Srf, uri: string, offer: string, headers: Record<string, string>, cancelOn: AbortSignal): Promise<Srf.Dialog> {
  let request: Req | undefined;
  const cancel = () => request?.cancel(() => undefined);
  cancelOn.addEventListener('abort', cancel, { once: true });
  try {
    return await srf.createUAC(uri, { localSdp: offer, headers }, {
      // srf calls cbRequest(err, req) at run time (its typings say (req)): take the request either way.
      cbRequest: (...args: unknown[]) => {
        const r = (args[1] ?? args[0]) as Req | null | undefined;
        if (!r || typeof r.cancel !== 'function') return;
        request = r;
        if (cancelOn.aborted) cancel();
      },
    });
  } finally {
    cancelOn.removeEventListener('abort', cancel);
  }
}

/**
 * Rings every URI at once with the same offer (RFC 3261 §16-style forking done by the B2BUA; the
 * targets are of one kind, so one SDP fits all): the first 2xx wins, the others are CANCELled and
 * a late 2xx gets a BYE. When every target fails, the best failure is thrown (486 over 480...).
 */
function ringTargets(srf: Srf, uris: string[], offer: string, headers: Record<string, string>, cancelOn: AbortSignal): Promise<Srf.Dialog> {
  const others = new AbortController();
  const signal = AbortSignal.any([cancelOn, others.signal]);
  return new Promise((resolve, reject) => {
    let winner: Srf.Dialog | undefined;
    const failures: unknown[] = [];
    for (const uri of uris) {
      callTarget(srf, uri, offer, headers, signal).then(
        (dialog) => {
          if (winner) return hangUp(dialog);
          winner = dialog;
          others.abort();
          resolve(dialog);
        },
        (err: unknown) => {
          failures.push(err);
          if (failures.length < uris.length) return;
          const status = (e: unknown) => ((e as { status?: number }).status ?? 500);
          reject(failures.reduce((best, e) => (better(status(e), status(best)) ? e : best)));
        },
      );
    }
  });
}

export async function blindTransfer(d: TransferDeps, call: BridgedCall, transferorLeg: LegId, target: string, req: Req, res: Res): Promise<void> {
  const route = d.router.resolve(target);
  if ('status' in route) {
    log.info({ call: call.id, target, status: route.status }, 'transfer target not routable');
    return void res.send(route.status === 404 ? 404 : 480, route.reason, {});
  }
  if (!call.beginTransfer(transferorLeg)) return void res.send(491, 'Request Pending', {});
  res.send(202);
  const transferor = call.dialogOf(transferorLeg);
  const transfereeLeg = otherLeg(transferorLeg);
  const transferee = call.dialogOf(transfereeLeg);
  const progress = new ReferProgress(transferor, req.get('CSeq'));
  void progress.notify('100 Trying', false);
  const dest = route.targets[0]!;
  const dests = route.targets.filter((t) => t.kind === dest.kind);
  if (dests.length < route.targets.length) {
    log.info({ call: call.id, target, rung: dests.length, skipped: route.targets.length - dests.length, kind: dest.kind }, 'transfer rings only the target\'s contacts of one kind');
  }
  const headers: Record<string, string> = { 'Referred-By': (req.get('Referred-By') ?? req.get('From')).replace(/;\s*tag=[^;>\s]*/i, '') };
  const from = identityOf(transferee);
  if (from) headers.From = from;
  const ringTimeout = AbortSignal.timeout(d.ringTimeoutMs);
  let uac: Srf.Dialog;
  try {
    uac = await swapParty({
      media: call.media,
      stayLeg: transfereeLeg,
      stay: transferee,
      staySdp: call.lastSdp(transfereeLeg),
      leavingSdp: call.lastSdp(transferorLeg),
      newcomerKind: dest.kind,
      reach: (offer) => ringTargets(d.srf, dests.map((t) => t.uri), offer, headers, AbortSignal.any([call.endedSignal, ringTimeout])),
    });
  } catch (err) {
    const failure = err instanceof SwapFailed ? err : new SwapFailed(err, undefined);
    const noAnswer = ringTimeout.aborted && !call.endedSignal.aborted;
    log.info({ call: call.id, target, status: failure.status, noAnswer, err: failure.message }, 'transfer failed; the call stays as it was');
    if (failure.reached) hangUp(failure.reached);
    if (call.transferorConnected) await progress.notify(noAnswer ? '408 Request Timeout' : `${failure.status} ${failure.reason}`, true);
    call.transferFailed();
    return;
  }
  // The new call takes over the dialogs at once (no window in which nobody handles them); the
  // transferor hears about it and is hung up afterwards.
  const transferorStillThere = call.transferorConnected;
  call.detach();
  d.calls.remove(call);
  const next = new BridgedCall(`${call.id}~${dest.user}`, ...dialogsByLeg(transfereeLeg, transferee, uac), call.media, d.events);
  d.calls.add(next);
  next.start();
  log.info({ call: call.id, transferee: transfereeLeg, target: uac.remote.uri ?? target }, 'blind transfer completed');
  if (transferorStillThere) {
    await progress.notify('200 OK', true);
    hangUp(transferor);
  }
}
