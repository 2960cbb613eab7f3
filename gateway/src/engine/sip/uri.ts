/**
 * SIP, SIPS, tel and other absolute URIs (RFC 3261 §19.1, §25.1; RFC 3966 §3).
 *
 * Parsing keeps every component escaped exactly as received, so that re-serialising a URI we did not
 * change gives back the same text (apart from host case, which is lower-cased, and the order-preserving
 * canonical layout). Use `unescapeUriPart` when the decoded text is needed.
 *
 * How each scheme lands in `SipUri`:
 * - sip / sips: `[user[:password]@]host[:port][;params][?headers]`, host lower-cased, IPv6 in brackets.
 * - tel: the telephone-subscriber number goes in `user`, its parameters in `params`, `host` is ''.
 * - any other absoluteURI (RFC 2396 §3, e.g. `http://x`, `isbn:123`, `urn:service:sos`): the part after
 *   "scheme:" is kept opaque, case preserved, in `host`; `params`/`headers` stay empty.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import {
  isAlpha, isDigit, isDigits, isEscapedRun, isHexDigit, isPasswordChar, isUriHeaderChar, isUriParamChar,
  isUserChar,
} from './char-classes';
import { SipParseError } from './parse-error';

export interface SipUriInit {
  scheme: string;
  user?: string;
  password?: string;
  host: string;
  port?: number;
  params: Map<string, string | null>;
  headers: Map<string, string>;
}

export class SipUri {
  /** 'sip' | 'sips' | 'tel' | any other absoluteURI scheme, lower-cased. */
  scheme: string;
  /** Still escaped as on the wire. For tel: URIs, the number. */
  user?: string;
  password?: string;
  /** Lower-cased; IPv6 kept with brackets. Opaque remainder for schemes other than sip/sips/tel. */
  host: string;
  port?: number;
  /** uri-parameters in order; names lower-cased; flag parameters map to null. */
  params: Map<string, string | null>;
  /** URI headers (`?h=v&...`), escaped as on the wire. */
  headers: Map<string, string>;

  constructor(init?: Partial<SipUriInit>) {
    this.scheme = init?.scheme ?? 'sip';
    this.user = init?.user;
    this.password = init?.password;
    this.host = init?.host ?? '';
    this.port = init?.port;
    this.params = init?.params ?? new Map();
    this.headers = init?.headers ?? new Map();
  }

  /** The `transport` uri-parameter, lower-cased (RFC 3261 §19.1.1). */
  get transport(): string | undefined {
    const t = this.params.get('transport');
    return t ? t.toLowerCase() : undefined;
  }

  /** host[:port]; a bare IPv6 address set by hand is bracketed here (RFC 3261 §25.1 IPv6reference). */
  get hostport(): string {
    let host = this.host;
    if ((this.scheme === 'sip' || this.scheme === 'sips') && host.includes(':') && host[0] !== '[') {
      host = `[${host}]`;
    }
    return this.port === undefined ? host : `${host}:${this.port}`;
  }

  toString(): string {
    let s = this.scheme + ':';
    if (this.user !== undefined) {
      s += this.user;
      if (this.password !== undefined) s += ':' + this.password;
      if (this.host) s += '@';
    }
    s += this.hostport;
    for (const [name, value] of this.params) s += value === null ? `;${name}` : `;${name}=${value}`;
    let sep = '?';
    for (const [name, value] of this.headers) {
      s += `${sep}${name}=${value}`;
      sep = '&';
    }
    return s;
  }

  clone(): SipUri {
    return new SipUri({
      scheme: this.scheme,
      user: this.user,
      password: this.password,
      host: this.host,
      port: this.port,
      params: new Map(this.params),
      headers: new Map(this.headers),
    });
  }
}

function fail(what: string, s: string): never {
  throw new SipParseError(`Invalid URI (${what}): ${s.length > 80 ? s.slice(0, 80) + '...' : s}`);
}

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3261 §25.1, RFC 2396 §3.1). */
export function isUriScheme(s: string): boolean {
  if (s.length === 0 || !isAlpha(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlpha(c) && !isDigit(c) && c !== 43 && c !== 45 && c !== 46) return false;
  }
  return true;
}

/** The scheme of a URI text, lower-cased, if it starts with a syntactically valid `scheme:`. */
export function uriSchemeOf(s: string): string | undefined {
  const colon = s.indexOf(':');
  if (colon <= 0) return undefined;
  const scheme = s.slice(0, colon);
  return isUriScheme(scheme) ? scheme.toLowerCase() : undefined;
}

/**
 * Parse a URI. Throws SipParseError on anything outside the grammar; white space, angle brackets and
 * non-ASCII characters are never part of a URI (RFC 3261 §25.1: they must be escaped).
 */
export function parseUri(s: string): SipUri {
  const scheme = uriSchemeOf(s);
  if (scheme === undefined) fail('scheme', s);
  const rest = s.slice(scheme.length + 1);
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(scheme, rest, s);
  if (scheme === 'tel') return parseTelUri(rest, s);
  return parseOpaqueUri(scheme, rest, s);
}

export function tryParseUri(s: string): SipUri | undefined {
  try {
    return parseUri(s);
  } catch {
    return undefined;
  }
}

/** IPv4 dotted quad, or IPv6 with or without brackets. */
export function isIpAddress(host: string): boolean {
  if (host.length > 2 && host.charCodeAt(0) === 91 /* [ */ && host.charCodeAt(host.length - 1) === 93) {
    return isIPv6(host.slice(1, -1));
  }
  return isIP(host) !== 0;
}

// SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]   (RFC 3261 §19.1.1, §25.1)
function parseSipUri(scheme: string, rest: string, whole: string): SipUri {
  const uri = new SipUri({ scheme });
  // The user part may itself hold ';', '?' and '/' (user-unreserved), so userinfo is located first:
  // '@' cannot occur unescaped anywhere else in a SIP URI.
  let i = 0;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (!user || !isEscapedRun(user, isUserChar)) fail('user', whole);
    uri.user = user;
    if (colon >= 0) {
      const password = userinfo.slice(colon + 1);
      if (!isEscapedRun(password, isPasswordChar)) fail('password', whole);
      uri.password = password;
    }
    i = at + 1;
  }
  let end = i;
  while (end < rest.length && rest[end] !== ';' && rest[end] !== '?') end++;
  const { host, port } = parseHostPort(rest.slice(i, end), whole);
  uri.host = host;
  uri.port = port;
  i = readUriParams(rest, end, uri.params, whole);
  if (i < rest.length) readUriHeaders(rest, i + 1, uri.headers, whole);
  return uri;
}

/** hostport = host [ ":" port ]; host = hostname / IPv4address / IPv6reference (RFC 3261 §25.1). */
export function parseHostPort(hp: string, whole = hp): { host: string; port?: number } {
  let host: string;
  let portText: string | undefined;
  if (hp.charCodeAt(0) === 91 /* [ */) {
    const close = hp.indexOf(']');
    if (close < 0 || !isIPv6(hp.slice(1, close))) fail('IPv6 reference', whole);
    host = hp.slice(0, close + 1).toLowerCase();
    const after = hp.slice(close + 1);
    if (after) {
      if (after[0] !== ':') fail('host', whole);
      portText = after.slice(1);
    }
  } else {
    const colon = hp.indexOf(':');
    host = (colon >= 0 ? hp.slice(0, colon) : hp).toLowerCase();
    if (colon >= 0) portText = hp.slice(colon + 1);
    if (!isHostname(host)) fail('host', whole);
  }
  if (portText === undefined) return { host };
  return { host, port: parsePort(portText, whole) };
}

function parsePort(text: string, whole: string): number {
  if (!isDigits(text) || text.length > 5) fail('port', whole);
  const port = Number(text);
  if (port > 65535) fail('port', whole);
  return port;
}

/**
 * hostname = *( domainlabel "." ) toplabel [ "." ], or an IPv4address (RFC 3261 §25.1).
 * Tolerance: '_' is accepted in labels (container and some internal host names use it). A name made
 * only of digits and dots must be a valid IPv4 address, so "999.1.1.1" is refused.
 */
function isHostname(h: string): boolean {
  if (h.length === 0 || h.length > 255) return false;
  let allNumeric = true;
  let labelLen = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c === 46 /* . */) {
      if (labelLen === 0) return false;
      labelLen = 0;
      continue;
    }
    if (c === 45 /* - */ || c === 95 /* _ */) {
      if (labelLen === 0) return false;
      allNumeric = false;
    } else if (isAlpha(c)) allNumeric = false;
    else if (!isDigit(c)) return false;
    labelLen++;
  }
  return allNumeric ? isIPv4(h.endsWith('.') ? h.slice(0, -1) : h) : true;
}

/** uri-parameters = *( ";" uri-parameter ); uri-parameter = pname [ "=" pvalue ] (RFC 3261 §25.1). */
function readUriParams(s: string, i: number, params: Map<string, string | null>, whole: string): number {
  while (i < s.length && s[i] === ';') {
    let end = i + 1;
    while (end < s.length && s[end] !== ';' && s[end] !== '?') end++;
    const segment = s.slice(i + 1, end);
    const eq = segment.indexOf('=');
    const name = (eq >= 0 ? segment.slice(0, eq) : segment).toLowerCase();
    const value = eq >= 0 ? segment.slice(eq + 1) : null;
    if (!name || !isEscapedRun(name, isUriParamChar)) fail('parameter', whole);
    if (value !== null && (!value || !isEscapedRun(value, isUriParamChar))) fail('parameter', whole);
    if (!params.has(name)) params.set(name, value);
    i = end;
  }
  return i;
}

/** headers = "?" header *( "&" header ); header = hname "=" hvalue (RFC 3261 §25.1). */
function readUriHeaders(s: string, i: number, headers: Map<string, string>, whole: string): void {
  for (const field of s.slice(i).split('&')) {
    const eq = field.indexOf('=');
    if (eq <= 0) fail('header', whole);
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (!isEscapedRun(name, isUriHeaderChar) || !isEscapedRun(value, isUriHeaderChar)) fail('header', whole);
    headers.set(name, value);
  }
}

// telephone-uri = "tel:" telephone-subscriber *par   (RFC 3966 §3)
function parseTelUri(rest: string, whole: string): SipUri {
  const semi = rest.indexOf(';');
  const number = semi >= 0 ? rest.slice(0, semi) : rest;
  if (!isTelephoneNumber(number)) fail('telephone number', whole);
  const uri = new SipUri({ scheme: 'tel', user: number, host: '' });
  if (semi >= 0) {
    const end = readUriParams(rest, semi, uri.params, whole);
    if (end < rest.length) fail('tel parameter', whole);
  }
  return uri;
}

/**
 * global-number-digits = "+" *phonedigit DIGIT *phonedigit;
 * local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex;
 * visual-separator = "-" / "." / "(" / ")"   (RFC 3966 §3).
 */
function isTelephoneNumber(n: string): boolean {
  const global = n.charCodeAt(0) === 43; /* + */
  let significant = 0;
  for (let i = global ? 1 : 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c === 45 || c === 46 || c === 40 || c === 41) continue;
    if (global ? isDigit(c) : isHexDigit(c) || c === 42 /* * */ || c === 35 /* # */) significant++;
    else return false;
  }
  return significant > 0;
}

/** absoluteURI kept opaque (RFC 2396 §3): visible ASCII except the delimiters '<', '>' and '"'. */
function parseOpaqueUri(scheme: string, rest: string, whole: string): SipUri {
  if (rest.length === 0) fail('empty', whole);
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 60 || c === 62 || c === 34) fail('character', whole);
  }
  return new SipUri({ scheme, host: rest });
}

/**
 * Undo %HH escapes (RFC 3261 §19.1.2). Bytes are decoded as UTF-8; an escape that does not form a
 * valid sequence decodes to U+FFFD, so this is for display and comparison, never for re-sending.
 */
export function unescapeUriPart(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (isEscapeAt(s, i)) {
      const bytes: number[] = [];
      for (; isEscapeAt(s, i); i += 3) bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      out += Buffer.from(bytes).toString('utf8');
    } else {
      out += s[i++];
    }
  }
  return out;
}

function isEscapeAt(s: string, i: number): boolean {
  return s.charCodeAt(i) === 37 && isHexDigit(s.charCodeAt(i + 1)) && isHexDigit(s.charCodeAt(i + 2));
}
