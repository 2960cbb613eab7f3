/**
 * WebSocket binding lifetime: a browser's binding lives as long as its connection, plus a grace
 * period (config `registrar.wsGraceMs`) so a quick reconnect keeps it.
 *
 * Design. The app is a drachtio-srf application and must run unchanged on a real
 * drachtio-server, so it never sees sockets: there is no "connection closed" event in the
 * drachtio protocol. What the app does see is the fate of a request it sends. Both
 * drachtio-server and our engine route a request for a WS contact (`sip:x@y.invalid;
 * transport=ws`) over the connection the REGISTER came in on (drachtio-protocol §11.4), and once
 * that connection is gone they fail the request at once (a NOK / "cannot resolve .invalid"
 * error, or a locally generated 503) instead of waiting for a timeout. So the connection's state
 * is observable from SIP alone:
 *
 * - every `probeIntervalMs` (default 15 s) each WS/WSS binding gets an OPTIONS to its contact
 *   URI (RFC 3261 §11). Any answer from the UA (SIP.js answers 200, RFC 3261 §11.2), even a 4xx,
 *   proves the flow works; a send error, 408, 430 (RFC 5626 Flow Failed), a 5xx, or no answer
 *   within `probeTimeoutMs` is a failure;
 * - after the first failure the binding is re-probed every graceMs/4 (at least 50 ms, at most
 *   the interval); if every probe keeps failing for `graceMs` it is removed ('connection-lost',
 *   'unbound' event). A successful probe or a new REGISTER for the binding (a reconnected
 *   browser re-registers over its new socket) clears the failure;
 * - `suspect()` probes at once, e.g. when routing saw a call to the user fail with a transport
 *   error, so dead browsers are noticed between ticks.
 *
 * Cost: one OPTIONS per browser per interval, in the same order as WS keep-alive traffic. Time
 * to notice a closed socket: at most one interval plus the grace period. UDP/TCP/TLS bindings
 * (desk phones) are not probed; their lifetime is the registration's, as RFC 3261 intends.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import type { BindingStore } from './binding-store';
import { isWebSocket, type Binding, type RegistrarStats } from './types';
import { sameUri } from '../policy/sip-uri';

const log = createLogger('registrar-ws');

export interface ProbeResult {
  alive: boolean;
  detail: string;
}

export type ProbeFn = (uri: string) => Promise<ProbeResult>;

export interface LivenessOptions {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  graceMs: number;
}

interface Watch {
  id: string;
  user: string;
  key: string;
  uri: string;
  generation: number;
  failingSince?: number;
  inFlight: boolean;
  timer?: NodeJS.Timeout;
}

/** Who answered what: any answer from the UA is life; see the file comment. */
export function classifyProbeStatus(status: number): ProbeResult {
  const dead = status === 408 || status === 430 || (status >= 500 && status < 600);
  return { alive: !dead, detail: `OPTIONS answered ${status}` };
}

type SentRequest = { on(ev: 'response', fn: (res: { status: number }) => void): void };
type RequestFn = (uri: string, opts: { method: string }, cb: (err: unknown, req: SentRequest) => void) => unknown;

/** OPTIONS over srf.request, settled by the first final response, a send error or a timeout. */
export function srfProbe(srf: Srf, timeoutMs: number): ProbeFn {
  return (uri) =>
    new Promise<ProbeResult>((resolve) => {
      let settled = false;
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => finish({ alive: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      timer.unref();
      try {
        (srf.request as unknown as RequestFn).call(srf, uri, { method: 'OPTIONS' }, (err, sent) => {
          if (err) return finish({ alive: false, detail: `not sent: ${(err as Error)?.message ?? String(err)}` });
          sent.on('response', (res) => {
            if (res.status >= 200) finish(classifyProbeStatus(res.status));
          });
        });
      } catch (err) {
        finish({ alive: false, detail: `not sent: ${(err as Error)?.message ?? String(err)}` });
      }
    });
}

export class WsLivenessMonitor {
  private readonly watched = new Map<string, Watch>();
  private readonly retryMs: number;
  private closed = false;

  constructor(
    private readonly store: BindingStore,
    private readonly probe: ProbeFn,
    private readonly opts: LivenessOptions,
    private readonly counters: RegistrarStats['probes'],
  ) {
    this.retryMs = opts.graceMs > 0 ? Math.min(opts.probeIntervalMs, Math.max(50, Math.floor(opts.graceMs / 4))) : opts.probeIntervalMs;
  }

  /** A binding was written (new or refreshed): (re)start watching it if it is a WS flow. */
  onBound(b: Binding): void {
    const id = `${b.user}\n${b.key}`;
    this.stop(id);
    if (this.closed || !isWebSocket(b.source.transport)) return;
    const w: Watch = { id, user: b.user, key: b.key, uri: b.uri, generation: b.generation, inFlight: false };
    this.watched.set(id, w);
    this.schedule(w, this.opts.probeIntervalMs);
  }

  onUnbound(b: Binding): void {
    this.stop(`${b.user}\n${b.key}`);
  }

  /**
   * Probe now: every WS binding of `user`, or only the one(s) whose contact is `contactUri`.
   * Returns how many probes were started.
   */
  suspect(user: string, contactUri?: string): number {
    let n = 0;
    for (const w of this.watched.values()) {
      if (w.user !== user || (contactUri && !sameUri(contactUri, w.uri)) || w.inFlight) continue;
      this.schedule(w, 0);
      n++;
    }
    return n;
  }

  get watchedCount(): number {
    return this.watched.size;
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.watched.keys()]) this.stop(id);
  }

  private stop(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.watched.delete(id);
  }

  private schedule(w: Watch, delayMs: number): void {
    clearTimeout(w.timer);
    w.timer = setTimeout(() => void this.run(w), Math.max(0, delayMs));
    w.timer.unref();
  }

  private async run(w: Watch): Promise<void> {
    if (this.closed || w.inFlight || this.watched.get(w.id) !== w) return;
    w.inFlight = true;
    this.counters.sent++;
    let result: ProbeResult;
    try {
      result = await this.probe(w.uri);
    } catch (err) {
      result = { alive: false, detail: (err as Error)?.message ?? String(err) };
    }
    w.inFlight = false;
    // Refreshed (new Watch) or removed meanwhile: this answer is about an older flow.
    if (this.closed || this.watched.get(w.id) !== w) return;
    if (result.alive) {
      if (w.failingSince !== undefined) log.info({ user: w.user, contact: w.uri, detail: result.detail }, 'WebSocket binding answers again');
      w.failingSince = undefined;
      this.schedule(w, this.opts.probeIntervalMs);
      return;
    }
    this.counters.failed++;
    const now = Date.now();
    w.failingSince ??= now;
    const failingFor = now - w.failingSince;
    if (failingFor >= this.opts.graceMs) {
      log.info({ user: w.user, contact: w.uri, failingForMs: failingFor, detail: result.detail }, 'WebSocket binding lost its connection; removing it');
      this.stop(w.id);
      this.store.remove(w.user, w.key, 'connection-lost', w.generation);
      return;
    }
    log.debug({ user: w.user, contact: w.uri, detail: result.detail }, 'WebSocket binding probe failed; within grace period');
    this.schedule(w, Math.max(10, Math.min(this.retryMs, this.opts.graceMs - failingFor)));
  }
}
