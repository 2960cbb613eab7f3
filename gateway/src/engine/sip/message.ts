/**
 * SIP message model (RFC 3261 §7).
 *
 * A message keeps its headers as an ordered list of (name, value) pairs exactly as they were
 * parsed or set, so that the text we send is the text we echo to the app (drachtio-protocol §4.3).
 * Multi-value headers may sit on one line ("Via: a, b") or on several; the accessors that need
 * single values (`getHeaderValues`) split commas outside quotes and angle brackets.
 */

/** Compact forms of RFC 3261 §7.3.3 plus the common extension ones. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  o: 'Event',
  r: 'Refer-To',
  b: 'Referred-By',
  u: 'Allow-Events',
  x: 'Session-Expires',
  a: 'Accept-Contact',
  j: 'Reject-Contact',
  d: 'Request-Disposition',
  y: 'Identity',
};

/**
 * Canonical spelling of well-known header names, keyed by lower case. A Map, not an object literal:
 * a header named "constructor" or "__proto__" must not find Object.prototype members.
 */
const CANONICAL: ReadonlyMap<string, string> = new Map(
  [
    'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Max-Forwards', 'Route', 'Record-Route',
    'Content-Type', 'Content-Length', 'Content-Encoding', 'Content-Disposition', 'Expires',
    'Min-Expires', 'Allow', 'Supported', 'Require', 'Proxy-Require', 'Unsupported', 'RSeq', 'RAck',
    'Event', 'Allow-Events', 'Subscription-State', 'Refer-To', 'Referred-By', 'Replaces',
    'Session-Expires', 'Min-SE', 'Reason', 'WWW-Authenticate', 'Proxy-Authenticate',
    'Authorization', 'Proxy-Authorization', 'Authentication-Info', 'User-Agent', 'Server',
    'Subject', 'Retry-After', 'Timestamp', 'Date', 'Organization', 'Priority', 'Accept',
    'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Call-Info', 'Error-Info', 'In-Reply-To',
    'MIME-Version', 'Reply-To', 'Warning', 'Path', 'Service-Route', 'P-Asserted-Identity',
    'P-Preferred-Identity', 'Remote-Party-ID', 'Privacy', 'Diversion', 'History-Info',
    'Identity', 'Accept-Contact', 'Reject-Contact', 'Request-Disposition', 'Sec-WebSocket-Protocol',
  ].map((n) => [n.toLowerCase(), n]),
);

/**
 * Canonical header name: compact forms expanded, well-known names spelled as in the RFCs,
 * anything else Capitalised-After-Dash (RFC 3261 §7.3.1 says names are case-insensitive).
 */
export function canonicalHeaderName(name: string): string {
  let canonical = canonicalCache.get(name);
  if (canonical === undefined) {
    canonical = computeCanonicalName(name);
    remember(canonicalCache, name, canonical);
  }
  return canonical;
}

/**
 * Lookup key of a header name: its canonical name lower-cased, so 'v', 'VIA' and 'Via' share one key.
 * Cached, because every header lookup on every message goes through it.
 */
export function headerKey(name: string): string {
  let key = keyCache.get(name);
  if (key === undefined) {
    key = canonicalHeaderName(name).toLowerCase();
    remember(keyCache, name, key);
  }
  return key;
}

function computeCanonicalName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1 && Object.hasOwn(COMPACT_FORMS, lower)) return COMPACT_FORMS[lower];
  const known = CANONICAL.get(lower);
  if (known) return known;
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/**
 * The caches are keyed by the name as received, which a peer controls; past this many distinct
 * names a cache is emptied rather than allowed to grow without bound.
 */
const NAME_CACHE_LIMIT = 4096;
const canonicalCache = new Map<string, string>();
const keyCache = new Map<string, string>();

function remember(cache: Map<string, string>, name: string, value: string): void {
  if (cache.size >= NAME_CACHE_LIMIT) cache.clear();
  cache.set(name, value);
}

export interface SipHeader {
  /** Name as it appears on the wire (compact forms kept if received so). */
  name: string;
  value: string;
}

/** Split a header value on commas that are outside quotes and <...> (RFC 3261 §7.3.1). */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') depthAngle++;
    else if (ch === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === ',' && depthAngle === 0) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

/** Headers whose values may not be split on commas (they carry commas in their grammar). */
const UNSPLITTABLE = new Set([
  'www-authenticate', 'proxy-authenticate', 'authorization', 'proxy-authorization', 'date',
  'authentication-info', 'retry-after', 'subject', 'user-agent', 'server', 'warning',
  'organization', 'timestamp',
]);

export abstract class SipMessage {
  headers: SipHeader[] = [];
  body: Buffer = Buffer.alloc(0);

  abstract get startLine(): string;
  abstract get isRequest(): boolean;

  private static matches(h: SipHeader, key: string): boolean {
    return headerKey(h.name) === key;
  }

  /** First value of a header (the whole first line when the header is on one line). */
  getHeader(name: string): string | undefined {
    const key = headerKey(name);
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) if (headerKey(headers[i].name) === key) return headers[i].value;
    return undefined;
  }

  hasHeader(name: string): boolean {
    return this.getHeader(name) !== undefined;
  }

  /** Every header line with that name, in order. */
  getHeaderLines(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const h of this.headers) if (headerKey(h.name) === key) out.push(h.value);
    return out;
  }

  /** Every value of a multi-value header, lines split on top-level commas. */
  getHeaderValues(name: string): string[] {
    const lines = this.getHeaderLines(name);
    if (UNSPLITTABLE.has(headerKey(name))) return lines;
    if (lines.length === 1) return splitHeaderValues(lines[0]);
    return lines.flatMap(splitHeaderValues);
  }

  /** Replace all occurrences with one line at the first one's place (or remove all when undefined). */
  setHeader(name: string, value: string | undefined): void {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => SipMessage.matches(h, key));
    const kept = this.headers.filter((h) => !SipMessage.matches(h, key));
    if (value !== undefined) {
      const line = { name: canonicalHeaderName(name), value };
      if (idx >= 0) kept.splice(idx, 0, line);
      else kept.push(line);
    }
    this.headers = kept;
  }

  /** Append a header line at the end. */
  addHeader(name: string, value: string): void {
    this.headers.push({ name: canonicalHeaderName(name), value });
  }

  /** Insert a header line before all others of any name (used for Via and Record-Route). */
  prependHeader(name: string, value: string): void {
    this.headers.unshift({ name: canonicalHeaderName(name), value });
  }

  removeHeader(name: string): void {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => !SipMessage.matches(h, key));
  }

  /** Remove the first value of a (possibly comma-joined) header; returns it. */
  shiftHeaderValue(name: string): string | undefined {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => SipMessage.matches(h, key));
    if (idx < 0) return undefined;
    const values = splitHeaderValues(this.headers[idx].value);
    const first = values.shift();
    if (values.length === 0) this.headers.splice(idx, 1);
    else this.headers[idx] = { name: this.headers[idx].name, value: values.join(', ') };
    return first;
  }

  get callId(): string {
    return this.getHeader('Call-ID') ?? '';
  }

  get bodyText(): string {
    return this.body.toString('utf8');
  }

  setBody(body: string | Buffer, contentType?: string): void {
    if (typeof body === 'string') {
      // Unpooled (see parser.ts ownedCopy): messages live as long as their transactions.
      this.body = Buffer.allocUnsafeSlow(Buffer.byteLength(body, 'utf8'));
      this.body.write(body, 'utf8');
    } else this.body = body;
    if (contentType !== undefined) this.setHeader('Content-Type', contentType);
  }

  /** Serialise with Content-Length recomputed from the body (RFC 3261 §20.14). */
  toBuffer(): Buffer {
    const lines = [this.startLine];
    for (const h of this.headers) {
      if (headerKey(h.name) === 'content-length') continue;
      lines.push(`${h.name}: ${h.value}`);
    }
    lines.push(`Content-Length: ${this.body.length}`);
    const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
    return this.body.length ? Buffer.concat([head, this.body]) : head;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipRequest extends SipMessage {
  constructor(
    public method: string,
    public uri: string,
    public version = 'SIP/2.0',
  ) {
    super();
  }

  get startLine(): string {
    return `${this.method} ${this.uri} ${this.version}`;
  }

  get isRequest(): true {
    return true;
  }
}

export class SipResponse extends SipMessage {
  constructor(
    public status: number,
    public reason: string,
    public version = 'SIP/2.0',
  ) {
    super();
  }

  get startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }

  get isRequest(): false {
    return false;
  }
}

export type AnySipMessage = SipRequest | SipResponse;
