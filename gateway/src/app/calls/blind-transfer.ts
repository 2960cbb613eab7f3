/**
 * Blind transfer (RFC 3515 REFER, RFC 5589 §6): one party of a bridged call REFERs the other
 * (the transferee) to a new target. The gateway, being a B2BUA, carries it out itself: it calls
 * the target with the transferee's media (same rtpengine call, the target in the transferor's
 * place: party-swap.ts), re-INVITEs the transferee toward it, reports progress to the transferor
 * with NOTIFY (message/sipfrag), and hangs the transferor up. The target must be routable like
 * any call (no open relay).
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { otherLeg, type LegId } from '../media/media-session';
import type { Router } from '../routing/router';
import { BridgedCall, type CallEvents } from './bridged-call';
import type { CallRegistry } from './call-registry';
import { SwapFailed, swapParty } from './party-swap';
import { notifyProgress } from './refer-request';

const log = createLogger('transfer');

type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;

export interface TransferDeps {
  srf: Srf;
  router: Router;
  calls: CallRegistry;
  events: CallEvents;
}

/** Dialogs in leg order (caller, callee) for a call whose `leg` is held by `dialog`. */
export function dialogsByLeg(leg: LegId, dialog: Srf.Dialog, other: Srf.Dialog): [Srf.Dialog, Srf.Dialog] {
  return leg === 'caller' ? [dialog, other] : [other, dialog];
}

/**
 * INVITE to the transfer target; CANCELled (RFC 3261 §9.1) if the call ends meanwhile (the
 * transferee hung up while the target was ringing).
 */
async function callTarget(srf: Srf, uri: string, offer: string, referredBy: string, ended: AbortSignal): Promise<Srf.Dialog> {
  let request: Req | undefined;
  const cancel = () => request?.cancel(() => undefined);
  ended.addEventListener('abort', cancel, { once: true });
  try {
    return await srf.createUAC(uri, { localSdp: offer, headers: { 'Referred-By': referredBy } }, {
      // srf calls cbRequest(err, req) at run time (its typings say (req)): take the request either way.
      cbRequest: (...args: unknown[]) => {
        const r = (args[1] ?? args[0]) as Req | null | undefined;
        if (!r || typeof r.cancel !== 'function') return;
        request = r;
        if (ended.aborted) cancel();
      },
    });
  } finally {
    ended.removeEventListener('abort', cancel);
  }
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
  await notifyProgress(transferor, '100 Trying', false);
  const dest = route.targets[0];
  const referredBy = req.get('Referred-By') ?? req.get('From');
  let uac: Srf.Dialog;
  try {
    uac = await swapParty({
      media: call.media,
      stayLeg: transfereeLeg,
      stay: transferee,
      leaving: transferor,
      newcomerKind: dest.kind,
      reach: (offer) => callTarget(d.srf, dest.uri, offer, referredBy, call.endedSignal),
    });
  } catch (err) {
    const failure = err instanceof SwapFailed ? err : new SwapFailed(err, undefined);
    log.info({ call: call.id, target: dest.uri, status: failure.status, err: failure.message }, 'transfer failed; the call stays as it was');
    failure.reached?.destroy();
    if (call.transferorConnected) await notifyProgress(transferor, `${failure.status} ${failure.reason}`, true);
    call.transferFailed();
    return;
  }
  const transferorStillThere = call.transferorConnected;
  call.detach();
  if (transferorStillThere) {
    await notifyProgress(transferor, '200 OK', true);
    transferor.destroy();
  }
  d.calls.remove(call);
  const next = new BridgedCall(`${call.id}~${dest.user}`, ...dialogsByLeg(transfereeLeg, transferee, uac), call.media, d.events);
  d.calls.add(next);
  next.start();
  log.info({ call: call.id, transferee: transfereeLeg, target: dest.uri }, 'blind transfer completed');
}
