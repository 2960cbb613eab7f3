/**
 * The INVITE handler: who is calling (digest-authenticated user or a configured desk phone, the
 * middleware in front has decided), where it goes (routing), and the B2BUA with rtpengine in the
 * middle for every call. Failures map to the SIP status the caller should see:
 *   unknown user 404, not registered 480, all branches busy 486 (best response), no rtpengine
 *   503 + Retry-After, SDP rtpengine could not handle 488.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { authenticatedUserOf } from '../policy/digest-auth';
import type { RtpenginePool } from '../media/rtpengine-pool';
import type { Registrar } from '../registrar';
import type { Router } from '../routing/router';
import { BridgedCall, type CallEvents } from './bridged-call';
import type { CallRegistry } from './call-registry';
import { ForkFailed, forkToTargets } from './outbound-fork';
import { handleRefer } from './refer-handler';

const log = createLogger('invite');

export interface InviteDeps {
  srf: Srf;
  router: Router;
  registrar: Registrar;
  pool: RtpenginePool;
  calls: CallRegistry;
  /** Blind-transfer targets ring at most this long (config calls.transferRingTimeoutSeconds). */
  transferRingTimeoutMs: number;
}

function sameSdp(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\r\n/g, '\n').trim();
  return norm(a) === norm(b);
}

function tagOf(header: string | undefined): string | undefined {
  return /;\s*tag=([^;>\s]+)/i.exec(header ?? '')?.[1];
}

/** What every bridged call reports to: the registry, and the transfer logic for REFER. */
function callEvents(d: InviteDeps): CallEvents {
  const events: CallEvents = {
    ended: (c) => d.calls.remove(c),
    refer: (call, leg, req, res) =>
      void handleRefer({ srf: d.srf, router: d.router, calls: d.calls, events, ringTimeoutMs: d.transferRingTimeoutMs }, call, leg, req, res).catch((err: unknown) => {
        log.error({ call: call.id, err: (err as Error).stack }, 'REFER handling failed');
        if (!res.finalResponseSent) res.send(500);
      }),
  };
  return events;
}

export function createInviteHandler(d: InviteDeps) {
  return async (req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> => {
    const callId = req.get('Call-ID');
    const caller = authenticatedUserOf(req) ?? d.router.phoneAt(req.source_address, Number(req.source_port));
    if (!caller) {
      // The auth middleware only lets through users and configured phones; belt and braces.
      res.send(403, 'Forbidden - unknown caller', {});
      return;
    }
    const route = d.router.resolve(req.uri);
    if ('status' in route) {
      log.info({ callId, caller, uri: req.uri, status: route.status }, 'call not routed');
      res.send(route.status, route.reason, {});
      return;
    }
    if (!req.body) {
      log.info({ callId, caller }, 'INVITE without SDP offer refused');
      res.send(488, 'Not Acceptable Here - an SDP offer is required', {});
      return;
    }
    const callerTag = tagOf(req.get('From')) ?? callId;
    const display = (req.getParsedHeader('From') as { name?: string }).name;
    const from = `${display ? `"${display.replace(/"/g, '')}" ` : ''}<sip:${caller}@${d.router.domain}>`;
    let winner;
    try {
      winner = await forkToTargets({
        srf: d.srf,
        pool: d.pool,
        req,
        res,
        callId,
        callerTag,
        callerSdp: req.body,
        targets: route.targets,
        headers: { From: from },
      });
    } catch (err) {
      if ((err as Error).name === 'NoMediaServerError') {
        log.error({ callId, err: (err as Error).message }, 'no rtpengine answers: rejecting the call with 503');
        const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 30; // the pool's (rtpengine-pool.ts)
        res.send(503, { headers: { 'Retry-After': String(retryAfter) } });
      } else if (err instanceof ForkFailed) {
        if (err.status !== 487) res.send(err.status, err.reason, {});
        // 408/503 as the best response: no branch answered at all (timeout, transport error), so
        // a browser's WS binding may be dead: probe it. A decline or busy says nothing of that.
        if (err.status === 408 || err.status === 503) for (const t of route.targets) if (t.contact) d.registrar.reportUnreachable(t.user, t.contact);
      } else {
        log.error({ callId, err: (err as Error).stack }, 'call setup failed');
        res.send(500);
      }
      return;
    }
    const { uac, media, target, early } = winner;
    try {
      let answer: string;
      if (early && sameSdp(early.calleeSdp, uac.remote.sdp)) {
        answer = early.callerSdp; // the 200 repeats the 183's answer (RFC 3261 §13.2.1): so does ours
      } else {
        // A 183's SDP used up the pending offer: offer the caller's SDP again for the 200's answer.
        if (early) await media.offer('caller', req.body);
        answer = await media.answer('callee', uac.remote.sdp);
      }
      const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
      // RFC 6086 §5.2.2: an INVITE with Recv-Info gets one back. The gateway takes DTMF INFO from
      // either leg (played as RFC 4733), so it announces the dtmf package.
      if (req.has('Recv-Info')) headers['Recv-Info'] = 'dtmf';
      const uas = await d.srf.createUAS(req, res, { localSdp: answer, headers });
      const call = new BridgedCall(callId, uas, uac, media, callEvents(d));
      d.calls.add(call);
      call.start();
      log.info({ callId, caller, callee: target.uri, kind: target.kind }, 'call answered');
    } catch (err) {
      log.warn({ callId, err: (err as Error).message }, 'caller leg could not be answered: hanging up the callee');
      uac.destroy();
      await media.delete();
      if ((err as { status?: number }).status === undefined) res.send(500);
    }
  };
}
