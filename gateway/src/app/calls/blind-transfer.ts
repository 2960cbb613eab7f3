/**
 * Blind transfer (RFC 3515 REFER, RFC 5589 §6): one party of a bridged call REFERs the other
 * (the transferee) to a new target. The gateway, being a B2BUA, carries it out itself: it calls
 * the target with the transferee's media through a new rtpengine session, re-INVITEs the
 * transferee toward it, reports progress to the transferor with NOTIFY (message/sipfrag), and
 * hangs the transferor up. The target must be routable like any call (no open relay).
 * REFER with Replaces (attended transfer) is declined with 501 for now.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { MediaSession, otherLeg, type LegId } from '../media/media-session';
import type { RtpenginePool } from '../media/rtpengine-pool';
import type { Router } from '../routing/router';
import { BridgedCall, modify, type CallEvents } from './bridged-call';
import type { CallRegistry } from './call-registry';

const log = createLogger('transfer');

type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;

export interface TransferDeps {
  srf: Srf;
  router: Router;
  pool: RtpenginePool;
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
  res.send(202);
  const transferor = call.dialogOf(transferorLeg);
  const transfereeLeg = otherLeg(transferorLeg);
  const transferee = call.dialogOf(transfereeLeg);
  await notify(transferor, '100 Trying', false);
  const dest = route.targets[0];
  const media = new MediaSession({
    pool: d.pool,
    callId: `${call.id}~xfer-${Date.now().toString(36)}`,
    caller: { tag: call.media.legTag(transfereeLeg), kind: call.media.legKind(transfereeLeg) },
    callee: { kind: dest.kind },
  });
  let uac: Srf.Dialog | undefined;
  try {
    const offer = await media.offer('caller', transferee.remote.sdp);
    uac = await d.srf.createUAC(dest.uri, { localSdp: offer, headers: { 'Referred-By': req.get('Referred-By') ?? req.get('From') } });
    await media.answer('callee', uac.remote.sdp);
    // The transferee gets a real offer (from the target's side) and its answer goes back through
    // rtpengine: a browser restarts ICE/DTLS on this re-INVITE and rtpengine must learn the new
    // ufrag, candidates and DTLS role (RFC 3264 §8).
    const reoffer = await media.offer('callee', uac.remote.sdp);
    const answer = await modify(transferee, reoffer);
    await media.answer('caller', answer);
  } catch (err) {
    const status = (err as { status?: number }).status ?? 500;
    log.info({ call: call.id, target: dest.uri, status }, 'transfer failed; the call stays as it was');
    uac?.destroy();
    await media.delete();
    await notify(transferor, `${status} ${(err as { reason?: string }).reason ?? 'Failed'}`, true);
    return;
  }
  call.detach();
  await notify(transferor, '200 OK', true);
  transferor.destroy();
  await call.media.delete();
  d.calls.remove(call);
  const next = new BridgedCall(`${call.id}~${dest.user}`, transferee, uac, media, d.events);
  d.calls.add(next);
  next.start();
  log.info({ call: call.id, transferee: transfereeLeg, target: dest.uri }, 'blind transfer completed');
}
