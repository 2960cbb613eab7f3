/**
 * Who a call goes to. The Request-URI's user names one of our users (all its registered
 * contacts ring at once) or a statically configured desk phone. Anything else is refused, so the
 * gateway is never an open relay: it only ever calls addresses it was configured with or that
 * registered with it.
 */
import type { GatewayConfig } from '../../config/schema';
import type { Registrar } from '../registrar';
import { isWebSocket } from '../registrar/types';
import type { LegKind } from '../media/sdp-policy';

export interface CallTarget {
  /** Where the INVITE goes. */
  uri: string;
  kind: LegKind;
  user: string;
  /** Registered contact (for liveness reports), if it came from the registrar. */
  contact?: string;
}

export type RouteResult = { targets: CallTarget[] } | { status: 404 | 480; reason: string };

/** User part of a SIP URI, unescaped; undefined when there is none. */
export function userOfUri(uri: string): string | undefined {
  const m = /^sips?:([^@;?]+)@/i.exec(uri.trim());
  return m ? decodeURIComponent(m[1]) : undefined;
}

export class Router {
  constructor(
    private readonly config: GatewayConfig,
    private readonly registrar: Registrar,
  ) {}

  /** The SIP domain the gateway serves (users' AoRs are sip:user@domain). */
  get domain(): string {
    return this.config.domain;
  }

  isUser(name: string): boolean {
    return this.config.users.some((u) => u.username === name);
  }

  resolve(requestUri: string): RouteResult {
    const user = userOfUri(requestUri);
    if (!user) return { status: 404, reason: 'Not Found - no user in Request-URI' };
    const phone = this.config.phones.find((p) => p.username === user);
    if (this.isUser(user)) {
      const bindings = this.registrar.lookup(user);
      const targets: CallTarget[] = bindings.map((b) => ({ uri: b.uri, kind: isWebSocket(b.source.transport) ? 'webrtc' : 'legacy', user, contact: b.uri }));
      if (phone) targets.push({ uri: phone.uri, kind: 'legacy', user });
      if (targets.length === 0) return { status: 480, reason: 'Temporarily Unavailable - not registered' };
      return { targets };
    }
    if (phone) return { targets: [{ uri: phone.uri, kind: 'legacy', user }] };
    return { status: 404, reason: 'Not Found' };
  }

  /** A configured desk phone whose address matches the packet source (trusted without digest). */
  phoneAt(address: string, port: number): string | undefined {
    for (const p of this.config.phones) {
      const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?/i.exec(p.uri);
      if (!m) continue;
      const host = m[1].replace(/^\[|\]$/g, '');
      if (host === address && (!m[2] || Number(m[2]) === port)) return p.username;
    }
    return undefined;
  }
}
