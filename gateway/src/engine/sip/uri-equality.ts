/**
 * URI comparison (RFC 3261 §19.1.4 for sip/sips, RFC 3966 §4 for tel).
 * https://tools.ietf.org/html/rfc3261#section-19.1.4
 */
import { isHexDigit } from './char-classes';
import type { SipUri } from './uri';

/** reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / "," (RFC 3261 §25.1). */
const RESERVED = new Set(';/?:@&=+$,');

/**
 * "Characters other than those in the 'reserved' set are equivalent to their '%' HEX HEX encoding."
 * Decodes every escape of a printable, non-reserved ASCII char and upper-cases the hex of the others,
 * so two spellings of the same component compare equal as strings. Escapes are never decoded twice:
 * "%2541" stays "%2541" ("value%41" is not "valueA", RFC 4475 §3.1.1.3).
 */
function normaliseEscapes(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && isHexDigit(s.charCodeAt(i + 1)) && isHexDigit(s.charCodeAt(i + 2))) {
      const byte = parseInt(s.slice(i + 1, i + 3), 16);
      const ch = String.fromCharCode(byte);
      out += byte > 32 && byte < 127 && !RESERVED.has(ch) && ch !== '%' ? ch : '%' + s.slice(i + 1, i + 3).toUpperCase();
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/** Case-sensitive comparison of an optional component after escape normalisation. */
function sameOptional(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return normaliseEscapes(a) === normaliseEscapes(b);
}

function sameParamValue(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return normaliseEscapes(a).toLowerCase() === normaliseEscapes(b).toLowerCase();
}

/**
 * Parameter names are compared after unescaping, since `%6C%72` spells `lr` (RFC 4475 §3.1.1.3).
 */
function paramsByName(params: Map<string, string | null>): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const [name, value] of params) out.set(normaliseEscapes(name).toLowerCase(), value);
  return out;
}

/** "A user, ttl, or method uri-parameter appearing in only one URI never matches ... maddr likewise." */
const MUST_BE_IN_BOTH = ['user', 'ttl', 'method', 'maddr'];

function sameSipParams(a: SipUri, b: SipUri): boolean {
  const pa = paramsByName(a.params);
  const pb = paramsByName(b.params);
  for (const name of MUST_BE_IN_BOTH) if (pa.has(name) !== pb.has(name)) return false;
  for (const [name, value] of pa) {
    if (pb.has(name) && !sameParamValue(value, pb.get(name) ?? null)) return false;
  }
  return true;
}

/** "URI header components are never ignored": same set of names, equal values. */
function sameHeaders(a: SipUri, b: SipUri): boolean {
  if (a.headers.size !== b.headers.size) return false;
  const hb = new Map<string, string>();
  for (const [name, value] of b.headers) hb.set(normaliseEscapes(name).toLowerCase(), normaliseEscapes(value));
  for (const [name, value] of a.headers) {
    if (hb.get(normaliseEscapes(name).toLowerCase()) !== normaliseEscapes(value)) return false;
  }
  return true;
}

/** RFC 3966 §4: numbers compared without visual separators; parameters as unordered sets. */
function sameTel(a: SipUri, b: SipUri): boolean {
  const digits = (n: string | undefined): string => (n ?? '').replace(/[-.()]/g, '').toLowerCase();
  if (digits(a.user) !== digits(b.user)) return false;
  const pa = paramsByName(a.params);
  const pb = paramsByName(b.params);
  if (pa.size !== pb.size) return false;
  for (const [name, value] of pa) if (!pb.has(name) || !sameParamValue(value, pb.get(name) ?? null)) return false;
  return true;
}

/** True when two parsed URIs are equivalent. A SIP and a SIPS URI are never equivalent. */
export function uriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === 'tel') return sameTel(a, b);
  if (a.scheme !== 'sip' && a.scheme !== 'sips') return a.host === b.host;
  // "Comparison of the userinfo of SIP and SIPS URIs is case-sensitive." Host is already lower-cased.
  return (
    sameOptional(a.user, b.user) &&
    sameOptional(a.password, b.password) &&
    a.host === b.host &&
    a.port === b.port &&
    sameSipParams(a, b) &&
    sameHeaders(a, b)
  );
}
