/**
 * Ringing every target of a call at once (parallel forking done by the B2BUA): each target gets
 * its own rtpengine session (targets may be browsers or desk phones, which need different SDP);
 * the first 2xx wins, the other branches are cancelled and their sessions deleted. A CANCEL from
 * the caller cancels everything. Early media (183 with SDP) from the first branch that sends
 * it is passed to the caller.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { MediaSession } from '../media/media-session';
import type { RtpenginePool } from '../media/rtpengine-pool';
import type { CallTarget } from '../routing/router';

const log = createLogger('fork');

type Req = Srf.SrfRequest;
type Res = Srf.SrfResponse;

export interface ForkWinner {
  uac: Srf.Dialog;
  media: MediaSession;
  target: CallTarget;
  /**
   * The winner's 183 SDP already went through rtpengine (its answer was sent to the caller): the
   * session has no pending offer left, so the 200 must not be answered through rtpengine again.
   */
  early?: EarlyAnswer;
}

export interface EarlyAnswer {
  /** The callee's SDP in its 183. */
  calleeSdp: string;
  /** rtpengine's SDP sent to the caller in the 183. */
  callerSdp: string;
}

export class ForkFailed extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`all branches failed: ${status} ${reason}`);
  }
}

interface Branch {
  target: CallTarget;
  media: MediaSession;
  req?: Req;
  done: boolean;
  /** Set when this branch's 183 SDP was answered through rtpengine (see ForkWinner.early). */
  early?: Promise<EarlyAnswer | undefined>;
}

/**
 * Whether final status `a` is a better one to report than `b` when every branch failed (RFC 3261
 * §16.7 step 6, in short): a 6xx first, then 486 (the callee is there but busy), then the lowest
 * class, then the lowest code.
 */
export function better(a: number, b: number): boolean {
  const rank = (s: number) => [s >= 600 ? 0 : 1, s === 486 ? 0 : 1, Math.floor(s / 100), s];
  const [ra, rb] = [rank(a), rank(b)];
  for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! < rb[i]!;
  return false;
}

export interface ForkOptions {
  srf: Srf;
  pool: RtpenginePool;
  /** The caller's INVITE and response object (for 180/183 toward it). */
  req: Req;
  res: Res;
  callId: string;
  callerTag: string;
  callerSdp: string;
  targets: CallTarget[];
  /** Headers for each outgoing INVITE (From with the caller's identity, ...). */
  headers: Record<string, string>;
}

export async function forkToTargets(o: ForkOptions): Promise<ForkWinner> {
  let cancelled = false;
  let ringingSent = false;
  let earlyFrom: Branch | undefined;
  let best: { status: number; reason: string } | undefined;
  const branches: Branch[] = o.targets.map((target, i) => ({
    target,
    media: new MediaSession({
      pool: o.pool,
      callId: o.targets.length === 1 ? o.callId : `${o.callId}~${i}`,
      caller: { tag: o.callerTag },
      callee: { kind: target.kind },
    }),
    done: false,
  }));

  const cancelOthers = (winner?: Branch) => {
    for (const b of branches) {
      if (b === winner || b.done) continue;
      b.done = true;
      try {
        b.req?.cancel(() => undefined);
      } catch {
        /* already final */
      }
      void b.media.delete();
    }
  };
  o.req.on('cancel', () => {
    cancelled = true;
    log.info({ callId: o.callId }, 'caller cancelled: cancelling every branch');
    cancelOthers();
  });

  const onProvisional = async (b: Branch, p: Res) => {
    if (cancelled || b.done) return;
    if (p.status === 183 && p.body && !earlyFrom) {
      earlyFrom = b;
      const calleeSdp: string = p.body;
      b.early = b.media.answer('callee', calleeSdp).then(
        (callerSdp) => {
          if (!cancelled) o.res.send(183, { body: callerSdp, headers: { 'Content-Type': 'application/sdp' } });
          return { calleeSdp, callerSdp };
        },
        (err: unknown) => {
          log.warn({ callId: o.callId, err: (err as Error).message }, 'early media not passed on');
          return undefined;
        },
      );
      await b.early;
    } else if (p.status === 180 && !ringingSent && !earlyFrom) {
      ringingSent = true;
      o.res.send(180);
    }
  };

  const attempt = async (b: Branch): Promise<Branch> => {
    const sdp = await b.media.offer('caller', o.callerSdp);
    if (cancelled || b.done) throw new ForkFailed(487, 'Request Terminated');
    const uac = await o.srf.createUAC(b.target.uri, { localSdp: sdp, headers: o.headers }, {
      // srf calls cbRequest(err, req) at run time (its typings say (req)): take the request either way.
      cbRequest: (...args: unknown[]) => {
        const r = (args[1] ?? args[0]) as Req | null | undefined;
        if (!r || typeof r.cancel !== 'function') return;
        b.req = r;
        if (cancelled || b.done) r.cancel(() => undefined);
      },
      cbProvisional: (p: Res) => void onProvisional(b, p),
    });
    if (cancelled || b.done) {
      // Answered after the caller went away or another branch won (§9.1 race): hang it up.
      uac.destroy();
      throw new ForkFailed(487, 'Request Terminated');
    }
    (b as Branch & { uac?: Srf.Dialog }).uac = uac;
    return b;
  };

  const attempts = branches.map((b) =>
    attempt(b).catch((err: unknown) => {
      b.done = true;
      void b.media.delete();
      const status = (err as { status?: number }).status ?? 500;
      const reason = (err as { reason?: string }).reason ?? (err as Error).message;
      if (!best || better(status, best.status)) best = { status, reason };
      log.info({ callId: o.callId, target: b.target.uri, status }, 'branch failed');
      throw err;
    }),
  );
  try {
    const winner = await Promise.any(attempts);
    winner.done = true;
    cancelOthers(winner);
    const early = winner.early ? await winner.early : undefined;
    return { uac: (winner as Branch & { uac: Srf.Dialog }).uac, media: winner.media, target: winner.target, early };
  } catch (err) {
    if (err instanceof AggregateError) {
      const first = err.errors.find((e) => (e as { name?: string }).name === 'NoMediaServerError');
      if (first) throw first;
      if (cancelled) throw new ForkFailed(487, 'Request Terminated');
      throw new ForkFailed(best?.status ?? 480, best?.reason ?? 'Temporarily Unavailable');
    }
    throw err;
  }
}
