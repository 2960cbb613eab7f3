/**
 * Shapes shared by the registrar's parts (RFC 3261 §10.3 bindings, RFC 5626 instance/reg-id).
 */

/** Transport the REGISTER arrived on, from the top Via (WS/WSS are reported as tcp in `protocol`). */
export type ViaTransport = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS' | 'SCTP' | 'UNKNOWN';

export interface BindingSource {
  /** `req.source_address` / `req.source_port`: the packet source. */
  address: string;
  port: number;
  /** `req.protocol`: udp, tcp or tls (drachtio reports ws/wss as tcp, drachtio-protocol §11.5). */
  protocol: string;
  /** top Via transport, e.g. WS or WSS for a browser. */
  transport: ViaTransport;
}

export interface Binding {
  /** `sip:user@domain` */
  aor: string;
  user: string;
  /** identity of the binding inside its AOR: instance (+reg-id) or the §19.1.4 URI key. */
  key: string;
  /** the Contact value as registered (without expires), what the 200 echoes. */
  contact: string;
  /** the contact URI: where requests for this binding go. */
  uri: string;
  /** granted lifetime in seconds, and when it runs out (epoch ms). */
  expires: number;
  expiresAt: number;
  q?: number;
  instanceId?: string;
  regId?: number;
  /** §10.3 step 7 ordering: the Call-ID and CSeq of the REGISTER that last wrote it. */
  callId: string;
  cseq: number;
  source: BindingSource;
  userAgent?: string;
  /** first registration and latest refresh (epoch ms). */
  registeredAt: number;
  receivedAt: number;
  /** bumped on every refresh, so in-flight liveness probes can tell a newer binding apart. */
  generation: number;
}

export type UnbindReason = 'unregistered' | 'expired' | 'connection-lost' | 'closed';

export interface RegistrarEvents {
  bound: [binding: Binding, info: { refreshed: boolean }];
  unbound: [binding: Binding, reason: UnbindReason];
}

export interface RegistrarStats {
  aors: number;
  bindings: number;
  byTransport: Record<string, number>;
  registers: { accepted: number; rejected: number; queries: number };
  unbound: Record<UnbindReason, number>;
  probes: { sent: number; failed: number };
}

export function isWebSocket(t: ViaTransport): boolean {
  return t === 'WS' || t === 'WSS';
}
