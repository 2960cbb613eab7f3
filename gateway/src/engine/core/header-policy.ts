/**
 * Applying app-supplied headers to a message the engine builds ("makeTags",
 * drachtio-protocol §4.7): immutable headers are dropped, known headers replace the stack's,
 * custom headers are added with their names re-cased, `@localhost` is rewritten.
 */
import { canonicalHeaderName, splitHeaderValues, type SipMessage, type SipHeader } from '../sip/message';
import { formatNameAddr, parseNameAddr } from '../sip/headers';

/** Headers an app may never set: the stack owns them. */
const IMMUTABLE = new Set(['via', 'route', 'rseq', 'record-route', 'content-length']);

/** Headers where `@localhost` (or a bare `localhost` host) is replaced by our address. */
const LOCALHOST_HEADERS = new Set(['from', 'to', 'contact', 'p-asserted-identity']);

const PRESERVE = new Set(
  (process.env.DRACHTIO_PRESERVE_HEADER_NAMES ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean),
);

export interface HeaderPolicyOptions {
  /** host:port that replaces `localhost` (external IP when configured). */
  hostport: string;
  /** Header names (lower case) the caller handles itself and that must not be copied. */
  skip?: ReadonlySet<string>;
}

/** Wire name for an app header: canonical for known ones, X- and preserved names kept. */
export function wireHeaderName(name: string): string {
  if (/^x-/i.test(name) || PRESERVE.has(name.toLowerCase())) return name;
  return canonicalHeaderName(name);
}

export function replaceLocalhost(value: string, hostport: string): string {
  return value.replace(/(sips?:(?:[^@;>\s]*@)?)localhost(?::\d+)?/gi, `$1${hostport}`);
}

/**
 * Write addr-spec values (`sip:a@b;p=1`) in name-addr form (`<sip:a@b>;p=1`), as sofia does on
 * the wire; RFC 3261 §20.10 gives both the same meaning, and peers often only parse the latter.
 */
export function toNameAddr(value: string): string {
  if (value.includes('<') || value.trim() === '*') return value;
  return splitHeaderValues(value)
    .map((v) => {
      try {
        return formatNameAddr(parseNameAddr(v));
      } catch {
        return v;
      }
    })
    .join(', ');
}

/** Normalised key for comparing names: case-insensitive, '-' same as '_' (§4.7). */
export function headerKey(name: string): string {
  return canonicalHeaderName(name.replace(/_/g, '-')).toLowerCase();
}

/**
 * Copy app headers onto msg. The first app line of a name replaces what the stack put there;
 * further lines of the same name are appended.
 */
export function applyAppHeaders(msg: SipMessage, appHeaders: readonly SipHeader[], opts: HeaderPolicyOptions): void {
  const replaced = new Set<string>();
  for (const h of appHeaders) {
    const key = headerKey(h.name);
    if (IMMUTABLE.has(key) || opts.skip?.has(key)) continue;
    if (/[\r\n]/.test(h.value)) continue;
    const value = LOCALHOST_HEADERS.has(key) ? toNameAddr(replaceLocalhost(h.value, opts.hostport)) : h.value;
    const name = wireHeaderName(h.name);
    if (!replaced.has(key)) {
      msg.setHeader(name, value);
      // setHeader canonicalises; keep X-/preserved spelling exactly.
      const line = msg.headers.find((x) => headerKey(x.name) === key);
      if (line) line.name = name;
      replaced.add(key);
    } else {
      msg.headers.push({ name, value });
    }
  }
}
