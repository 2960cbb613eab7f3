/**
 * One or more rtpengines behind ng/UDP. Every engine is pinged every healthIntervalMs; a new call
 * goes to the healthy engine with the fewest active calls and stays pinned there (rtpengine keeps
 * the call's state; a different engine knows nothing about it). When an engine stops answering,
 * new calls fail over to the others; when none answers, NoMediaServerError tells the app to reject
 * with 503 and Retry-After.
 */
import { EventEmitter } from 'node:events';
import { NgClient, NgTimeoutError } from './ng-client';
import { describeEndpoint, type NgEndpoint, type NgQueryReply } from './ng-types';
import { createLogger } from '../../logging/logger';

const log = createLogger('rtpengine-pool');

/** No rtpengine answers: reject the call with 503 and this Retry-After. */
export class NoMediaServerError extends Error {
  readonly status = 503;
  constructor(
    readonly retryAfterSeconds: number,
    detail: string,
  ) {
    super(`no media server available: ${detail}`);
    this.name = 'NoMediaServerError';
  }
}

export interface RtpenginePoolOptions {
  timeoutMs: number;
  retries: number;
  healthIntervalMs: number;
  /** Retry-After for NoMediaServerError; default: the health interval, rounded up, at least 1 s. */
  retryAfterSeconds?: number;
}

export interface RtpengineNodeMetrics {
  id: string;
  healthy: boolean;
  activeCalls: number;
  callsPlaced: number;
  /** Commands that got no reply after every retransmission (calls and health pings). */
  commandTimeouts: number;
  healthFailures: number;
  /** New calls that had to move on to another engine after this one failed. */
  failoversAway: number;
  retransmissions: number;
  lastPingRttMs?: number;
  lastError?: string;
}

export class RtpengineNode {
  healthy = false;
  activeCalls = 0;
  callsPlaced = 0;
  commandTimeouts = 0;
  healthFailures = 0;
  failoversAway = 0;
  lastPingRttMs: number | undefined;
  lastError: string | undefined;
  pingInFlight = false;
  readonly client: NgClient;
  readonly id: string;

  constructor(
    readonly endpoint: NgEndpoint,
    options: { timeoutMs: number; retries: number },
  ) {
    this.id = describeEndpoint(endpoint);
    this.client = new NgClient(endpoint, options);
  }

  metrics(): RtpengineNodeMetrics {
    return {
      id: this.id,
      healthy: this.healthy,
      activeCalls: this.activeCalls,
      callsPlaced: this.callsPlaced,
      commandTimeouts: this.commandTimeouts,
      healthFailures: this.healthFailures,
      failoversAway: this.failoversAway,
      retransmissions: this.client.counters.retransmissions,
      lastPingRttMs: this.lastPingRttMs,
      lastError: this.lastError,
    };
  }
}

export interface RtpenginePoolMetrics {
  engines: RtpengineNodeMetrics[];
  healthyEngines: number;
  activeCalls: number;
  /** New calls refused because no engine answered. */
  noMediaServerRejections: number;
}

/** Errors that mean "this engine is not answering" (as opposed to rtpengine refusing the SDP). */
export function isEngineUnreachable(error: unknown): boolean {
  return error instanceof NgTimeoutError;
}

const DELETE_RETRY_DELAYS_MS = [2_000, 10_000, 30_000];

export class RtpenginePool extends EventEmitter {
  readonly nodes: readonly RtpengineNode[];
  private timer: NodeJS.Timeout | undefined;
  private noMediaServerRejections = 0;
  private lastNoServerLogAt = 0;
  private suppressedNoServerLogs = 0;
  private roundRobin = 0;
  /** Background retries of deletes that got no reply (see deleteCall). */
  private readonly deleteRetries = new Set<NodeJS.Timeout>();

  constructor(
    endpoints: readonly NgEndpoint[],
    private readonly options: RtpenginePoolOptions,
  ) {
    super();
    if (endpoints.length === 0) throw new Error('rtpengine pool needs at least one endpoint');
    this.nodes = endpoints.map((endpoint) => new RtpengineNode(endpoint, options));
  }

  get retryAfterSeconds(): number {
    return this.options.retryAfterSeconds ?? Math.max(1, Math.ceil(this.options.healthIntervalMs / 1000));
  }

  /** Pings every engine once (does not fail when none answers: calls get 503 until one does), then keeps pinging. */
  async start(): Promise<void> {
    await this.checkHealth();
    if (!this.timer) {
      this.timer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs);
      this.timer.unref();
    }
    const healthy = this.nodes.filter((node) => node.healthy).length;
    if (healthy === 0) log.error({ engines: this.nodes.map((node) => node.id) }, 'no rtpengine answers: new calls will get 503');
    else log.info({ healthy, engines: this.nodes.length }, 'rtpengine pool ready');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const timer of this.deleteRetries) clearTimeout(timer);
    this.deleteRetries.clear();
    for (const node of this.nodes) node.client.close();
  }

  /**
   * Deletes a whole call (no from-tag: every monologue of it) on `node`. When the engine does not
   * answer (an overloaded engine, a lost reply), the delete is tried again in the background after
   * 2, 10 and 30 s: a call that ended must not leave its session behind. The first failure is still
   * thrown, for the caller's log.
   */
  async deleteCall(node: RtpengineNode, callId: string): Promise<NgQueryReply> {
    try {
      return await node.client.delete({ 'call-id': callId, 'delete-delay': 0 });
    } catch (error) {
      this.reportFailure(node, error);
      if (isEngineUnreachable(error)) this.retryDelete(node, callId, 0);
      throw error;
    }
  }

  private retryDelete(node: RtpengineNode, callId: string, attempt: number): void {
    const delay = DELETE_RETRY_DELAYS_MS[attempt];
    if (delay === undefined || !this.timer) return; // given up, or the pool was stopped
    const timer = setTimeout(() => {
      this.deleteRetries.delete(timer);
      node.client.delete({ 'call-id': callId, 'delete-delay': 0 }).then(
        () => log.info({ callId, rtpengine: node.id, attempt: attempt + 2 }, 'media session deleted on a later try'),
        (error: unknown) => {
          if (isEngineUnreachable(error)) this.retryDelete(node, callId, attempt + 1);
          else log.info({ callId, rtpengine: node.id, err: (error as Error).message }, 'delete retry: rtpengine no longer has the call');
        },
      );
    }, delay);
    timer.unref();
    this.deleteRetries.add(timer);
  }

  /** One health round: ping every engine whose previous ping has finished. */
  async checkHealth(): Promise<void> {
    await Promise.all(this.nodes.filter((node) => !node.pingInFlight).map((node) => this.pingNode(node)));
  }

  private async pingNode(node: RtpengineNode): Promise<void> {
    node.pingInFlight = true;
    const started = Date.now();
    try {
      await node.client.ping();
      node.lastPingRttMs = Date.now() - started;
      this.markHealthy(node);
    } catch (error) {
      node.healthFailures += 1;
      if (isEngineUnreachable(error)) node.commandTimeouts += 1;
      this.markUnhealthy(node, error as Error);
    } finally {
      node.pingInFlight = false;
    }
  }

  private markHealthy(node: RtpengineNode): void {
    if (node.healthy) return;
    node.healthy = true;
    node.lastError = undefined;
    log.info({ rtpengine: node.id }, 'rtpengine is answering');
    this.emit('up', node);
  }

  /** Takes an engine out of rotation for new calls (it stays in the health rounds). */
  markUnhealthy(node: RtpengineNode, error: Error): void {
    node.lastError = error.message;
    if (!node.healthy) return;
    node.healthy = false;
    log.warn({ rtpengine: node.id, err: error.message, activeCalls: node.activeCalls }, 'rtpengine stopped answering: no new calls go there');
    this.emit('down', node);
  }

  /**
   * A command got no reply after every retransmission: count it, and take the engine out of
   * rotation until a ping succeeds, unless it answered other commands meanwhile. A busy engine
   * whose one reply was lost (full socket buffer, a dropped datagram) is not a dead one; refusing
   * every new call with 503 until the next health ping would turn one loss into many.
   */
  reportFailure(node: RtpengineNode, error: unknown): void {
    if (!isEngineUnreachable(error)) return;
    node.commandTimeouts += 1;
    const waitedMs = (error as { elapsedMs?: number }).elapsedMs ?? 0;
    if (node.client.lastReplyAt > Date.now() - waitedMs) {
      log.warn({ rtpengine: node.id, err: (error as Error).message }, 'rtpengine answered other commands meanwhile: one reply lost, the engine stays in rotation');
      return;
    }
    this.markUnhealthy(node, error as Error);
  }

  /** Healthy engines, fewest active calls first; ties rotate so idle engines share new calls. */
  private candidates(): RtpengineNode[] {
    const healthy = this.nodes.filter((node) => node.healthy);
    const offset = this.roundRobin++ % Math.max(1, healthy.length);
    const rotated = [...healthy.slice(offset), ...healthy.slice(0, offset)];
    return rotated.sort((a, b) => a.activeCalls - b.activeCalls);
  }

  /**
   * Runs the first command of a new call (the initial offer) on a healthy engine; when that engine
   * does not answer, marks it down, calls `abandon` for it (best-effort cleanup of a command that
   * may have executed), and tries the next one. On success the call is counted on that engine and
   * must later be released with callEnded(). Other errors (rtpengine refused the SDP) are rethrown.
   */
  async placeNewCall<T>(
    run: (node: RtpengineNode) => Promise<T>,
    abandon?: (node: RtpengineNode) => void,
  ): Promise<{ node: RtpengineNode; result: T }> {
    const tried: string[] = [];
    for (const node of this.candidates()) {
      if (!node.healthy) continue; // went down while an earlier candidate was being tried
      tried.push(node.id);
      try {
        const result = await run(node);
        node.activeCalls += 1;
        node.callsPlaced += 1;
        return { node, result };
      } catch (error) {
        if (!isEngineUnreachable(error)) throw error;
        node.failoversAway += 1;
        this.reportFailure(node, error);
        abandon?.(node);
        log.warn({ rtpengine: node.id, err: (error as Error).message }, 'rtpengine did not answer a new call: failing over');
      }
    }
    this.noMediaServerRejections += 1;
    const detail = tried.length
      ? `rtpengine ${tried.join(', ')} did not answer`
      : `every rtpengine is down (${this.nodes.map((node) => `${node.id}: ${node.lastError ?? 'no reply'}`).join('; ')})`;
    this.logNoMediaServer(detail);
    throw new NoMediaServerError(this.retryAfterSeconds, detail);
  }

  /** The call on `node` has ended (its rtpengine session was deleted or the engine is gone). */
  callEnded(node: RtpengineNode): void {
    node.activeCalls = Math.max(0, node.activeCalls - 1);
  }

  metrics(): RtpenginePoolMetrics {
    const engines = this.nodes.map((node) => node.metrics());
    return {
      engines,
      healthyEngines: engines.filter((engine) => engine.healthy).length,
      activeCalls: engines.reduce((sum, engine) => sum + engine.activeCalls, 0),
      noMediaServerRejections: this.noMediaServerRejections,
    };
  }

  /** One clear line per second at most, with a count of the lines it stood for. */
  private logNoMediaServer(detail: string): void {
    const now = Date.now();
    if (now - this.lastNoServerLogAt < 1000) {
      this.suppressedNoServerLogs += 1;
      return;
    }
    log.error(
      { detail, retryAfterSeconds: this.retryAfterSeconds, alsoRejectedSinceLastLine: this.suppressedNoServerLogs },
      'no rtpengine answers: rejecting new call with 503',
    );
    this.lastNoServerLogAt = now;
    this.suppressedNoServerLogs = 0;
  }
}
