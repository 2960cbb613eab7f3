/**
 * The checks a UAS or proxy makes on a parsed message before processing it (RFC 3261 §8.2, §16.3
 * step 1 "Reasonable Syntax", §18.1.2, §18.3), answered the way RFC 4475 expects.
 *
 * Only the header fields the engine itself relies on are parsed; unknown header fields, Date,
 * Expires, Require and the like are left to whoever uses them (RFC 4475 §3.1.2.12, §3.3.5).
 */
import { isDigits, isWsp } from './char-classes';
import { parseCSeq, parseNameAddr, parseVia, viaBranch } from './headers';
import { headerKey, splitHeaderValues, type SipMessage, type SipRequest, type SipResponse } from './message';
import { parseUri, uriSchemeOf } from './uri';

export interface Rejection {
  status: number;
  reason: string;
}

/** Schemes the engine routes on; any other Request-URI scheme is answered 416 (§8.2.2.1, §16.3 step 2). */
const SUPPORTED_SCHEMES = new Set(['sip', 'sips', 'tel']);

/** The header fields every request and response carries (§8.1.1), in the order reasons name them. */
const MANDATORY = ['Via', 'From', 'To', 'Call-ID', 'CSeq'];
/** Header fields that may appear only once (§7.3.1: the others are not comma-lists; RFC 4475 §3.3.8). */
const SINGLE = ['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards'];

/** One pass over the header list: every line of the header fields we check, by lookup key. */
function collect(msg: SipMessage): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const h of msg.headers) {
    const key = headerKey(h.name);
    const lines = byKey.get(key);
    if (lines) lines.push(h.value);
    else byKey.set(key, [h.value]);
  }
  return byKey;
}

function firstProblem(msg: SipMessage, byKey: Map<string, string[]>): string | null {
  const missing = MANDATORY.filter((name) => !byKey.has(headerKey(name)));
  if (missing.length) return `Missing ${missing.join(', ')}`;
  for (const name of SINGLE) {
    if ((byKey.get(headerKey(name))?.length ?? 0) > 1) return `Multiple ${name} headers`;
  }
  // §8.1.1.5 CSeq: "The sequence number value MUST be expressible as a 32-bit unsigned integer and
  // MUST be less than 2**31" (RFC 4475 §3.1.2.4, §3.1.2.5).
  try {
    parseCSeq(one(byKey, 'CSeq'));
  } catch {
    return 'Malformed CSeq';
  }
  // §20.42 / §18.2.1: every via-parm must parse; the top one is where responses go.
  const vias = (byKey.get('via') ?? []).flatMap(splitHeaderValues);
  if (vias.length === 0) return 'Missing Via';
  for (const via of vias) {
    try {
      parseVia(via);
    } catch {
      return 'Malformed Via';
    }
  }
  for (const name of ['From', 'To']) {
    if (!isAddress(one(byKey, name))) return `Malformed ${name}`;
  }
  // callid = word [ "@" word ] (§25.1). Tolerance: only emptiness and white space are refused, since
  // real Call-IDs carry characters outside `word` (for instance base64 '=' padding).
  const callId = one(byKey, 'Call-ID');
  if (!callId || hasWsp(callId)) return 'Malformed Call-ID';
  // §18.3: the Content-Length, when present, is the size of the body.
  const cl = byKey.get('content-length');
  if (cl && cl.some((v) => !isDigits(v) || Number(v) !== msg.body.length)) return 'Content-Length mismatch';
  return null;
}

function hasWsp(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isWsp(s.charCodeAt(i))) return true;
  return false;
}

function one(byKey: Map<string, string[]>, name: string): string {
  return byKey.get(headerKey(name))?.[0] ?? '';
}

/**
 * A From/To value: a name-addr or addr-spec (§20.20, §20.39). Any absoluteURI scheme is allowed there
 * (RFC 4475 §3.3.4), but a sip/sips/tel URI must follow its own grammar.
 */
function isAddress(value: string, allowWildcard = false): boolean {
  try {
    const na = parseNameAddr(value);
    if (na.wildcard) return allowWildcard;
    const scheme = uriSchemeOf(na.uri);
    if (scheme !== undefined && SUPPORTED_SCHEMES.has(scheme)) parseUri(na.uri);
    return true;
  } catch {
    return false;
  }
}

function badRequest(what: string): Rejection {
  return { status: 400, reason: `Bad Request - ${what}` };
}

/**
 * Checks made before a request enters the transaction layer. Returns the response to send
 * statelessly, or null when the request may be processed.
 */
export function validateRequest(req: SipRequest): Rejection | null {
  const byKey = collect(req);
  const problem = firstProblem(req, byKey);
  if (problem) return badRequest(problem);

  // §8.1.1.5: "The method MUST match that of the request." For ACK and CANCEL the CSeq method is ACK
  // and CANCEL themselves (§17.1.1.3, §9.1), so plain equality covers them; the rules on their
  // sequence NUMBER are a matter for the transaction layer. Unknown methods too (RFC 4475 §3.1.2.18).
  if (parseCSeq(one(byKey, 'CSeq')).method !== req.method) {
    return badRequest('CSeq method does not match request method');
  }
  // RFC 4475 §3.2.1: a branch of just the magic cookie claims RFC 3261 transaction ids but has none;
  // rejecting (statelessly) is one of the two behaviours the RFC allows.
  if (viaBranch(splitHeaderValues(one(byKey, 'Via'))[0] ?? '') === 'z9hG4bK') {
    return badRequest('Via branch has no transaction id');
  }
  // §8.1.1.6 / §20.22: Max-Forwards is an integer 0-255. It is not required (RFC 2543 peers,
  // RFC 4475 §3.4.1), but when present it must be one (RFC 4475 §3.1.2.4).
  const mf = byKey.get('max-forwards');
  if (mf && (!isDigits(mf[0]) || mf[0].length > 10 || Number(mf[0]) > 255)) return badRequest('Invalid Max-Forwards');

  // §20.10: Contact values (a '*' only in REGISTER, §10.2.2). A URI with '?' must be in <>
  // (RFC 4475 §3.1.2.13).
  const contacts = (byKey.get('contact') ?? []).flatMap(splitHeaderValues);
  for (const c of contacts) {
    if (!isAddress(c, req.method === 'REGISTER' && contacts.length === 1)) return badRequest('Malformed Contact');
  }
  return checkRequestUri(req.uri);
}

/**
 * §8.2.2.1 / §16.3 step 2: "If the Request-URI uses a scheme not supported by the UAS, it SHOULD
 * reject the request with a 416 (Unsupported URI Scheme) response." The Request-URI is never in
 * <> (RFC 4475 §3.1.2.7) and may not carry headers (§19.1.1 Table 1, RFC 4475 §3.1.2.11).
 */
function checkRequestUri(text: string): Rejection | null {
  const scheme = uriSchemeOf(text);
  if (scheme === undefined) return badRequest('Malformed Request-URI');
  if (!SUPPORTED_SCHEMES.has(scheme)) return { status: 416, reason: 'Unsupported URI Scheme' };
  try {
    const uri = parseUri(text);
    if (uri.headers.size > 0) return badRequest('Headers not allowed in Request-URI');
  } catch {
    return badRequest('Malformed Request-URI');
  }
  return null;
}

/**
 * Checks on a received response (§18.1.2, RFC 4475 §3.1.2.5, §3.1.2.19). Returns why it must be
 * dropped, or null. Matching it to a client transaction (and the sent-by check) is the
 * transaction layer's job.
 */
export function validateResponse(res: SipResponse): string | null {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 699) return 'Invalid status code';
  return firstProblem(res, collect(res));
}
