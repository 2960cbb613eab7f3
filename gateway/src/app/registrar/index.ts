/**
 * The registrar (RFC 3261 §10) as a drachtio-srf application part:
 *
 *   const registrar = createRegistrar(srf, config, config.users);
 *   registrar.on('bound', (b) => ...); registrar.lookup('alice') -> live contacts, newest first
 *
 * It installs, in this order, the digest middleware for REGISTER (401, policy/digest-auth.ts)
 * and the REGISTER handler (register-handler.ts), keeps the bindings (binding-store.ts) and
 * ties browser bindings to their WebSocket (ws-liveness.ts). Single domain: an AOR is its user
 * name; the configured domain, the Request-URI host and the local address are all names of it.
 */
import { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import type { GatewayConfig, UserConfig } from '../../config/schema';
import { createLogger } from '../../logging/logger';
import { digestAuth, type DigestAuthMiddleware } from '../policy/digest-auth';
import { parseSipUri } from '../policy/sip-uri';
import { BindingStore } from './binding-store';
import { registerHandler, type RegisterContext } from './register-handler';
import type { Binding, RegistrarEvents, RegistrarStats, UnbindReason } from './types';
import { srfProbe, WsLivenessMonitor, type ProbeFn } from './ws-liveness';

export type { Binding, BindingSource, RegistrarEvents, RegistrarStats, UnbindReason, ViaTransport } from './types';

const log = createLogger('registrar');

export type RegistrarSettings = Pick<GatewayConfig, 'realm' | 'domain' | 'registrar'>;

export type UserSource = readonly UserConfig[] | ReadonlyMap<string, UserConfig> | ((username: string) => UserConfig | undefined);

export interface RegistrarOptions {
  /** OPTIONS probe period for WS/WSS bindings (default 15 000 ms). */
  wsProbeIntervalMs?: number;
  /** A probe without a final answer after this long has failed (default 5 000 ms). */
  wsProbeTimeoutMs?: number;
  /** Bindings one user may hold (default 10); more -> 403. */
  maxContactsPerUser?: number;
  /** Further names of our domain. */
  domains?: readonly string[];
  /** Replace the srf OPTIONS probe (tests). */
  probe?: ProbeFn;
}

export interface Registrar {
  /** Live bindings of an AOR ('alice', 'alice@host' or 'sip:alice@host'), newest first. */
  lookup(aor: string): Binding[];
  /**
   * Routing saw a request to this user fail with a transport error: probe its WS bindings now
   * (all of them, or the one with this contact URI). Returns the number of probes started.
   */
  reportUnreachable(aor: string, contactUri?: string): number;
  stats(): RegistrarStats;
  /** Stop timers and probes and forget all bindings; later REGISTERs get 503. */
  close(): void;
  readonly auth: DigestAuthMiddleware;
  on<E extends keyof RegistrarEvents>(event: E, listener: (...args: RegistrarEvents[E]) => void): this;
  once<E extends keyof RegistrarEvents>(event: E, listener: (...args: RegistrarEvents[E]) => void): this;
  off<E extends keyof RegistrarEvents>(event: E, listener: (...args: RegistrarEvents[E]) => void): this;
}

function userLookup(users: UserSource): (name: string) => UserConfig | undefined {
  if (typeof users === 'function') return users as (name: string) => UserConfig | undefined;
  const map = users instanceof Map ? (users as ReadonlyMap<string, UserConfig>) : new Map((users as readonly UserConfig[]).map((u) => [u.username, u]));
  return (name) => map.get(name);
}

/** 'alice', 'alice@host', 'sip:alice@host' -> 'alice' */
function userOf(aor: string): string | undefined {
  const a = aor.trim().replace(/^<|>$/g, '');
  if (/^sips?:/i.test(a)) return parseSipUri(a)?.user;
  const at = a.indexOf('@');
  return at < 0 ? a || undefined : a.slice(0, at) || undefined;
}

class RegistrarImpl extends EventEmitter implements Registrar {
  readonly auth: DigestAuthMiddleware;
  private readonly store: BindingStore;
  private readonly monitor: WsLivenessMonitor;
  private readonly counters: RegistrarStats;
  private closed = false;

  constructor(srf: Srf, config: RegistrarSettings, users: UserSource, opts: RegistrarOptions) {
    super();
    const reg = config.registrar;
    if (reg.minExpires > reg.maxExpires) throw new Error(`registrar: minExpires ${reg.minExpires} > maxExpires ${reg.maxExpires}`);
    this.counters = {
      aors: 0,
      bindings: 0,
      byTransport: {},
      registers: { accepted: 0, rejected: 0, queries: 0 },
      unbound: { unregistered: 0, expired: 0, 'connection-lost': 0, closed: 0 },
      probes: { sent: 0, failed: 0 },
    };
    this.store = new BindingStore(config.domain);
    const probeTimeoutMs = opts.wsProbeTimeoutMs ?? 5000;
    this.monitor = new WsLivenessMonitor(
      this.store,
      opts.probe ?? srfProbe(srf, probeTimeoutMs),
      { probeIntervalMs: opts.wsProbeIntervalMs ?? 15_000, probeTimeoutMs, graceMs: reg.wsGraceMs },
      this.counters.probes,
    );
    this.store.on('bound', (b: Binding, info: { refreshed: boolean }) => {
      this.monitor.onBound(b);
      if (info.refreshed) log.debug({ user: b.user, contact: b.uri, expires: b.expires }, 'binding refreshed');
      else log.info({ user: b.user, contact: b.uri, expires: b.expires, transport: b.source.transport, src: `${b.source.address}:${b.source.port}` }, 'binding added');
      this.emit('bound', b, info);
    });
    this.store.on('unbound', (b: Binding, reason: UnbindReason) => {
      this.monitor.onUnbound(b);
      this.counters.unbound[reason]++;
      log.info({ user: b.user, contact: b.uri, reason }, 'binding removed');
      this.emit('unbound', b, reason);
    });

    const lookupUser = userLookup(users);
    this.auth = digestAuth({ realm: config.realm, lookupUser, challengeCode: 401, nonceTtlSeconds: reg.nonceTtlSeconds });
    const ctx: RegisterContext = {
      store: this.store,
      domains: new Set([config.domain, ...(opts.domains ?? [])].map((d) => d.toLowerCase())),
      limits: {
        minExpires: reg.minExpires,
        maxExpires: reg.maxExpires,
        defaultExpires: Math.min(Math.max(reg.defaultExpires, reg.minExpires), reg.maxExpires),
        maxContactsPerUser: opts.maxContactsPerUser ?? 10,
      },
      counters: this.counters.registers,
      isClosed: () => this.closed,
    };
    // Order matters: srf runs middleware in the order it was added.
    srf.use('register', this.auth as unknown as Parameters<Srf['use']>[1]);
    (srf as unknown as { register(fn: ReturnType<typeof registerHandler>): void }).register(registerHandler(ctx));
  }

  lookup(aor: string): Binding[] {
    const user = userOf(aor);
    return user ? this.store.list(user) : [];
  }

  reportUnreachable(aor: string, contactUri?: string): number {
    const user = userOf(aor);
    return user ? this.monitor.suspect(user, contactUri) : 0;
  }

  stats(): RegistrarStats {
    const byTransport: Record<string, number> = {};
    for (const b of this.store.all()) byTransport[b.source.transport] = (byTransport[b.source.transport] ?? 0) + 1;
    return {
      ...this.counters,
      aors: this.store.aorCount,
      bindings: this.store.size,
      byTransport,
      registers: { ...this.counters.registers },
      unbound: { ...this.counters.unbound },
      probes: { ...this.counters.probes },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.monitor.close();
    this.store.clear('closed');
    this.auth.close();
  }
}

/** Install the registrar on a connected (or about to connect) srf; see the file comment. */
export function createRegistrar(srf: Srf, config: RegistrarSettings, users: UserSource, opts: RegistrarOptions = {}): Registrar {
  return new RegistrarImpl(srf, config, users, opts);
}
