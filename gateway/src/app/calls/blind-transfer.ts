/**
 * Blind transfer (RFC 3515 REFER, RFC 5589 §6): one party of a bridged call REFERs the other
 * (the transferee) to a new target. The gateway, being a B2BUA, carries it out itself: it calls
 * the target with the transferee's media (same rtpengine call, the target in the transferor's
 * place), re-INVITEs the transferee toward it, reports progress to the transferor with NOTIFY (message/sipfrag), and
 * hangs the transferor up. The target must be routable like any call (no open relay).
 * REFER with Replaces (attended transfer) is declined with 501 for now.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { otherLeg, type LegId } from '../media/media-session';
import type { Router } from '../routing/router';
import { BridgedCall, modify, type CallEvents } from './bridged-call';
import type { CallRegistry } from './call-registry';

const log = createLogger('transfer');

type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;

export interface TransferDeps {
  srf: Srf;
  router: Router;
  calls: CallRegistry;
  events: CallEvents;
}

function referTarget(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /<([^>]+)>/.exec(value);
  return (m ? m[1] : value.split(';')[0]).trim();
}

/** NOTIFY carrying the transfer's progress (RFC 3515 §2.4.5). */
async function notify(dialog: Srf.Dialog, status: string, terminated: boolean): Promise<void> {
  try {
    await dialog.request({
      method: 'NOTIFY',
      headers: {
        Event: 'refer',
        'Subscription-State': terminated ? 'terminated;reason=noresource' : 'active;expires=60',
        'Content-Type': 'message/sipfrag;version=2.0',
      },
      body: `SIP/2.0 ${status}\r\n`,
    } as unknown as Req);
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'NOTIFY for REFER not delivered');
  }
}

export async function blindTransfer(d: TransferDeps, call: BridgedCall, transferorLeg: LegId, req: Req, res: Res): Promise<void> {
  const target = referTarget(req.get('Refer-To'));
  if (!target) return void res.send(400, 'Bad Request - Refer-To missing', {});
  if (/[?&]replaces=/i.test(target)) return void res.send(501, 'Not Implemented - attended transfer', {});
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
  await notify(transferor, '100 Trying', false);
  const dest = route.targets[0];
  // The target takes the transferor's leg in the same rtpengine call, so the transferee keeps its
  // media transport (ports, ICE, DTLS): see MediaSession.replaceParty.
  const media = call.media;
  const swap = media.replaceParty(transferorLeg, dest.kind);
  let uac: Srf.Dialog | undefined;
  try {
    const offer = await media.offer(transfereeLeg, transferee.remote.sdp);
    uac = await d.srf.createUAC(dest.uri, { localSdp: offer, headers: { 'Referred-By': req.get('Referred-By') ?? req.get('From') } });
    await media.answer(transferorLeg, uac.remote.sdp);
    // The transferee gets a real offer (from the target's side) and its answer goes back through
    // rtpengine (RFC 3264 §8): codecs or direction may differ from what it had with the transferor.
    const reoffer = await media.offer(transferorLeg, uac.remote.sdp);
    const answer = await modify(transferee, reoffer);
    await media.answer(transfereeLeg, answer);
  } catch (err) {
    const status = (err as { status?: number }).status ?? 500;
    log.info({ call: call.id, target: dest.uri, status, err: (err as Error).message }, 'transfer failed; the call stays as it was');
    uac?.destroy();
    await swap
      .revert({ [transfereeLeg]: transferee.remote.sdp, [transferorLeg]: transferor.remote.sdp } as Record<LegId, string>)
      .catch((e: unknown) => log.warn({ call: call.id, err: (e as Error).message }, 'media could not be given back to the transferor'));
    if (call.transferorConnected) await notify(transferor, `${status} ${(err as { reason?: string }).reason ?? 'Failed'}`, true);
    call.transferFailed();
    return;
  }
  const transferorStillThere = call.transferorConnected;
  call.detach();
  if (transferorStillThere) {
    await notify(transferor, '200 OK', true);
    transferor.destroy();
  }
  d.calls.remove(call);
  // Dialogs by leg, as the media session knows them: the target is on the transferor's leg.
  const [callerDialog, calleeDialog] = transfereeLeg === 'caller' ? [transferee, uac] : [uac, transferee];
  const next = new BridgedCall(`${call.id}~${dest.user}`, callerDialog, calleeDialog, media, d.events);
  d.calls.add(next);
  next.start();
  log.info({ call: call.id, transferee: transfereeLeg, target: dest.uri }, 'blind transfer completed');
}
