/**
 * The REGISTER handler: RFC 3261 §10.3 "Processing REGISTER Requests", after the digest
 * middleware has authenticated the request (step 3).
 *
 *   step 1  Request-URI: the request reached us, so its host is one of our names;
 *   step 2  Require: we support no registration extensions -> 420 + Unsupported;
 *   step 4  authorization: a user may only register its own AOR -> 403;
 *   step 5  AOR = To URI; it must be one of our users in one of our domains -> 404
 *           (the configured domain, the Request-URI host, or the address the request arrived on);
 *   step 6  Contacts: "*" only alone and with Expires: 0 -> 400; per contact the expires
 *           parameter, else the Expires header, else the default; below the minimum -> 423 with
 *           Min-Expires; above the maximum -> clamped;
 *   step 7  per binding, same Call-ID with a CSeq not above the stored one -> the update is
 *           aborted and the request fails (500); all-or-nothing commit;
 *   step 8  200 with every current binding of the AOR, each with ;expires= (and Date).
 * A REGISTER without Contact is a query: 200 listing the bindings, nothing changes.
 * Every rejection is logged with the source address; nothing here throws into srf.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { authenticatedUserOf } from '../policy/digest-auth';
import { bareHost, parseSipUri, uriKey } from '../policy/sip-uri';
import type { BindingStore, BindingWrite } from './binding-store';
import {
  instanceId, param, parseDeltaSeconds, parseNameAddr, parseQ, registeredContact, splitHeaderValues, type NameAddr,
} from './contact';
import type { BindingSource, RegistrarStats, ViaTransport } from './types';

const log = createLogger('registrar');

export interface RegisterLimits {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxContactsPerUser: number;
}

export interface RegisterContext {
  store: BindingStore;
  /** configured domain plus any extra names, lower-case */
  domains: ReadonlySet<string>;
  limits: RegisterLimits;
  counters: RegistrarStats['registers'];
  isClosed(): boolean;
}

interface Outcome {
  status: number;
  reason?: string;
  headers?: Record<string, string>;
  /** why, for the log line of a rejection */
  why?: string;
}

class Reject extends Error {
  constructor(readonly outcome: Outcome) {
    super(outcome.why ?? outcome.reason);
  }
}

function reject(status: number, reason: string, why: string, headers?: Record<string, string>): never {
  throw new Reject({ status, reason, why, headers });
}

const VIA_TRANSPORTS: readonly ViaTransport[] = ['UDP', 'TCP', 'TLS', 'WS', 'WSS', 'SCTP'];

export function bindingSource(req: Srf.SrfRequest): BindingSource {
  let transport: ViaTransport = 'UNKNOWN';
  try {
    const proto = String(req.getParsedHeader('Via')[0]?.protocol ?? '').toUpperCase() as ViaTransport;
    if (VIA_TRANSPORTS.includes(proto)) transport = proto;
  } catch {
    // no parsable Via: keep UNKNOWN (the transport layer would not have let it through anyway)
  }
  return { address: req.source_address, port: Number(req.source_port), protocol: String(req.protocol ?? ''), transport };
}

/** §10.3 step 5: hosts an AOR may be in. */
function servesHost(ctx: RegisterContext, req: Srf.SrfRequest, host: string): boolean {
  const h = bareHost(host);
  if (ctx.domains.has(h)) return true;
  const ruriHost = parseSipUri(req.uri)?.host;
  if (ruriHost && bareHost(ruriHost) === h) return true;
  // srf builds receivedOn as `${address}:${port}` with no brackets, even for IPv6.
  const receivedOn = (req as unknown as { receivedOn?: string }).receivedOn;
  const local = receivedOn && receivedOn.lastIndexOf(':') > 0 ? receivedOn.slice(0, receivedOn.lastIndexOf(':')) : receivedOn;
  return !!local && bareHost(`[${local.replace(/^\[|\]$/g, '')}]`) === h;
}

/** Key of a contact inside its AOR (see binding-store.ts), reusing an existing binding's key. */
function bindingKey(ctx: RegisterContext, user: string, na: NameAddr): string {
  const inst = instanceId(na);
  if (inst) return `instance:${inst};reg-id=${param(na, 'reg-id') ?? ''}`;
  const uk = uriKey(na.uri);
  for (const b of ctx.store.list(user)) if (uriKey(b.uri) === uk) return b.key;
  return `uri:${uk}`;
}

function contactList(ctx: RegisterContext, user: string): Record<string, string> {
  const now = Date.now();
  const bindings = ctx.store.list(user, now);
  const headers: Record<string, string> = { Date: new Date(now).toUTCString() };
  if (bindings.length) {
    headers.Contact = bindings.map((b) => `${b.contact};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`).join(', ');
  }
  return headers;
}

function processRegister(ctx: RegisterContext, req: Srf.SrfRequest): Outcome {
  if (ctx.isClosed()) reject(503, 'Service Unavailable', 'registrar closed');
  const user = authenticatedUserOf(req);
  if (!user) reject(403, 'Forbidden', 'REGISTER reached the registrar without authentication');

  let to: NameAddr;
  try {
    to = parseNameAddr(req.get('To') ?? '');
    parseNameAddr(req.get('From') ?? '');
  } catch (err) {
    reject(400, 'Bad Request - malformed To or From', (err as Error).message);
  }
  const aor = parseSipUri(to.uri);
  if (!aor?.user) reject(404, 'Not Found', `AOR ${to.uri} is not a sip: URI with a user part`);
  if (!servesHost(ctx, req, aor.host)) reject(404, 'Not Found', `domain ${aor.host} is not served here`);
  if (aor.user !== user) reject(403, 'Forbidden', `authenticated as ${user}, may not register ${aor.user}`);

  const required = (req.get('Require') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (required.length) reject(420, 'Bad Extension', `Require: ${required.join(', ')}`, { Unsupported: required.join(', ') });

  const callId = req.get('Call-ID') ?? '';
  const cseq = parseInt(req.get('CSeq') ?? '', 10);
  if (!callId || !Number.isFinite(cseq)) reject(400, 'Bad Request - Call-ID or CSeq', 'missing Call-ID or CSeq');

  let headerExpires: number | undefined;
  try {
    headerExpires = parseDeltaSeconds(req.get('Expires') ?? undefined, 'Expires');
  } catch (err) {
    reject(400, 'Bad Request - invalid Expires', (err as Error).message);
  }

  const contactHeader = req.get('Contact');
  if (!contactHeader?.trim()) {
    ctx.counters.queries++;
    return { status: 200, headers: contactList(ctx, user) };
  }
  let values: string[];
  try {
    values = splitHeaderValues(contactHeader);
  } catch (err) {
    reject(400, 'Bad Request - malformed Contact', (err as Error).message);
  }

  const source = bindingSource(req);
  const writes: BindingWrite[] = [];
  const base = { callId, cseq, source, userAgent: req.get('User-Agent') ?? undefined };
  const stale = (b: { callId: string; cseq: number }) => b.callId === callId && cseq <= b.cseq;

  if (values.includes('*')) {
    // §10.3 step 6: "*" must be the only Contact and Expires must be 0.
    if (values.length !== 1 || headerExpires !== 0) reject(400, 'Bad Request - wildcard Contact', '"*" needs Expires: 0 and no other Contact');
    // §10.3 step 7: each binding is removed unless it was written later in the same Call-ID.
    for (const b of ctx.store.list(user)) if (!stale(b)) writes.push({ ...base, key: b.key, contact: b.contact, uri: b.uri, expires: 0 });
  } else {
    let tooBrief = false;
    let outOfOrder: string | undefined;
    for (const value of values) {
      let na: NameAddr;
      let requested: number;
      let q: number | undefined;
      try {
        na = parseNameAddr(value);
        requested = parseDeltaSeconds(param(na, 'expires'), 'expires parameter') ?? headerExpires ?? ctx.limits.defaultExpires;
        q = parseQ(param(na, 'q'));
      } catch (err) {
        reject(400, 'Bad Request - malformed Contact', (err as Error).message);
      }
      const { minExpires, maxExpires } = ctx.limits;
      // §10.3 step 6: 423 only if 0 < requested < min and below one hour; else raise to min.
      if (requested > 0 && requested < minExpires) {
        if (requested < 3600) tooBrief = true;
        requested = minExpires;
      }
      const granted = requested === 0 ? 0 : Math.min(requested, maxExpires);
      const key = bindingKey(ctx, user, na);
      const existing = ctx.store.get(user, key);
      if (existing && stale(existing)) outOfOrder = `${na.uri}: CSeq ${cseq} not above ${existing.cseq}`;
      const regId = param(na, 'reg-id');
      writes.push({
        ...base,
        key,
        contact: registeredContact(na),
        uri: na.uri,
        expires: granted,
        q,
        instanceId: instanceId(na),
        regId: regId && /^\d+$/.test(regId) ? Number(regId) : undefined,
      });
    }
    if (tooBrief) reject(423, 'Interval Too Brief', `expires below ${ctx.limits.minExpires}`, { 'Min-Expires': String(ctx.limits.minExpires) });
    if (outOfOrder) reject(500, 'Server Internal Error - out-of-order REGISTER', outOfOrder);
    const keys = new Set(ctx.store.list(user).map((b) => b.key));
    for (const w of writes) {
      if (w.expires > 0) keys.add(w.key);
      else keys.delete(w.key);
    }
    if (keys.size > ctx.limits.maxContactsPerUser) {
      reject(403, 'Forbidden - too many contacts', `${keys.size} contacts, at most ${ctx.limits.maxContactsPerUser}`);
    }
  }
  ctx.store.commit(user, writes);
  return { status: 200, headers: contactList(ctx, user) };
}

/** srf.register handler; see the file comment. */
export function registerHandler(ctx: RegisterContext): (req: Srf.SrfRequest, res: Srf.SrfResponse) => void {
  return (req, res) => {
    let outcome: Outcome;
    try {
      outcome = processRegister(ctx, req);
      if (outcome.status === 200 && req.get('Contact')?.trim()) ctx.counters.accepted++;
    } catch (err) {
      if (err instanceof Reject) {
        outcome = err.outcome;
      } else {
        log.error({ err: (err as Error)?.stack ?? String(err), callId: req.get('Call-ID') }, 'REGISTER handler failed');
        outcome = { status: 500, reason: 'Server Internal Error', why: 'internal error' };
      }
      ctx.counters.rejected++;
      log.warn(
        { src: `${req.protocol}/${req.source_address}:${req.source_port}`, user: authenticatedUserOf(req), to: req.get('To'), status: outcome.status, reason: outcome.why },
        'REGISTER rejected',
      );
    }
    try {
      res.send(outcome.status, outcome.reason ?? (outcome.status === 200 ? 'OK' : ''), { headers: outcome.headers ?? {} });
    } catch (err) {
      log.error({ err: (err as Error)?.message, callId: req.get('Call-ID') }, 'could not send the REGISTER response');
    }
  };
}
