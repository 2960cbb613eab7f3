/**
 * Grammars of the header fields the engine reads itself: name-addr (From, To, Contact, Route,
 * Record-Route, ...), Via, CSeq and RAck (RFC 3261 §20, §25.1; RFC 3262 §7.2).
 *
 * Every reader takes ONE header value (split lists first with `getHeaderValues`) whose line folding
 * has been undone by the parser, and throws SipParseError when the value is outside the grammar.
 */
import { isDigit, isDigits, isToken, isTokenChar, isWsp, skipWsp } from './char-classes';
import { formatParams, getHeaderParam, readGenericParams, readQuotedString, setHeaderParam } from './header-params';
import { SipParseError } from './parse-error';
import { parseHostPort, uriSchemeOf } from './uri';

export { getHeaderParam, setHeaderParam, removeHeaderParam } from './header-params';

export interface NameAddr {
  /** Unquoted and unescaped; undefined when the value has none. */
  displayName?: string;
  /** The URI text as written between < > (or the addr-spec), not parsed: see parseUri. */
  uri: string;
  /** Header parameters (after '>' or after the addr-spec); names lower-cased, values as written. */
  params: Map<string, string | null>;
  /** `Contact: *` (RFC 3261 §10.2.2). */
  wildcard?: boolean;
}

function fail(message: string): never {
  throw new SipParseError(message);
}

/**
 * A URI as it may appear in a header: "scheme:" then visible ASCII other than < > " (RFC 3261 §25.1
 * addr-spec = SIP-URI / SIPS-URI / absoluteURI). White space inside is refused (RFC 4475 §3.1.2.14).
 * The full grammar of the URI is checked by parseUri when someone needs its parts.
 */
function checkHeaderUri(uri: string, bare: boolean): void {
  if (uriSchemeOf(uri) === undefined) fail(`Invalid URI in header: ${uri.slice(0, 80)}`);
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 60 || c === 62 || c === 34) fail('Invalid character in header URI');
    // "If the URI contains a comma, question mark or semicolon, the URI MUST be enclosed in angle
    // brackets" (RFC 3261 §20.10); ';' cannot reach here in the bare form, it starts the parameters.
    if (bare && (c === 44 || c === 63)) fail('URI with "?" or "," must be enclosed in <> (RFC 3261 §20.10)');
  }
}

/**
 * name-addr = [ display-name ] LAQUOT addr-spec RAQUOT, or a bare addr-spec, followed by header
 * parameters (RFC 3261 §20.10, §25.1). display-name = *(token LWS) / quoted-string.
 *
 * "When the header field value contains a display name, the URI including all URI parameters is
 * enclosed in '<' and '>'. If no '<' and '>' are present, all parameters after the URI are header
 * parameters, not URI parameters." (§20.10)
 */
export function parseNameAddr(value: string): NameAddr {
  const s = value.trim();
  if (s === '*') return { uri: '*', params: new Map(), wildcard: true };
  if (s.length === 0) fail('Empty name-addr');
  const params = new Map<string, string | null>();
  let displayName: string | undefined;
  let i = 0;
  if (s.charCodeAt(0) === 34 /* " */) {
    const q = readQuotedString(s, 0);
    displayName = q.text;
    i = skipWsp(s, q.end);
    if (s.charCodeAt(i) !== 60) fail('Quoted display name must be followed by <URI>');
  } else {
    // Token display name (which may be glued to '<', RFC 4475 §3.1.1.6) or a bare addr-spec.
    while (i < s.length && s.charCodeAt(i) !== 60 && s.charCodeAt(i) !== 59) i++;
    if (i >= s.length || s.charCodeAt(i) === 59) {
      const uri = s.slice(0, i).trim();
      checkHeaderUri(uri, true);
      readGenericParams(s, i, params);
      return { uri, params };
    }
    const words = s.slice(0, i).trim();
    if (words) {
      const parts = words.split(/[ \t]+/);
      if (!parts.every(isDisplayWord)) fail('Display name with non-token characters must be quoted (RFC 3261 §25.1)');
      displayName = parts.join(' ');
    }
  }
  const gt = s.indexOf('>', i + 1);
  if (gt < 0) fail('Missing ">" in name-addr');
  const uri = s.slice(i + 1, gt);
  checkHeaderUri(uri, false);
  readGenericParams(s, gt + 1, params);
  return displayName === undefined ? { uri, params } : { displayName, uri, params };
}

/**
 * A word of an unquoted display name: a token (RFC 3261 §25.1). Tolerance: UTF-8 letters are accepted
 * too (some phones send `Zoë <sip:...>` unquoted); they cannot be mistaken for separators.
 */
function isDisplayWord(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c < 0x80 && !isTokenChar(c)) return false;
  }
  return word.length > 0;
}

/** display-name is *(token LWS): a name made of tokens separated by single spaces needs no quotes. */
function isTokenPhrase(s: string): boolean {
  return s.split(' ').every(isToken);
}

/**
 * Always the '<uri>' form (safe whatever the URI holds, RFC 3261 §20.10); the display name is quoted
 * unless it is a plain token phrase. Inside quotes, '"', '\\' and control characters are written as
 * quoted-pairs (§25.1); CR and LF, which no quoted-pair may carry, become spaces.
 */
export function formatNameAddr(n: NameAddr): string {
  if (n.wildcard) return '*';
  let out = '';
  if (n.displayName) {
    const name = n.displayName.replace(/[\r\n]+/g, ' ');
    out = isTokenPhrase(name) ? `${name} ` : `"${name.replace(/["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '\\$&')}" `;
  }
  return `${out}<${n.uri}>${formatParams(n.params)}`;
}

/** The tag parameter of a From/To value (RFC 3261 §19.3). */
export function getTag(value: string): string | undefined {
  const tag = getHeaderParam(value, 'tag');
  return tag ? tag : undefined;
}

export function withTag(value: string, tag: string): string {
  return setHeaderParam(value, 'tag', tag);
}

export interface Via {
  /** 'SIP/2.0' */
  protocol: string;
  /** Upper case: UDP, TCP, TLS, WS, WSS, SCTP or any other token (RFC 4475 §3.1.1.10). */
  transport: string;
  /** Lower-cased; IPv6 with brackets. */
  host: string;
  port?: number;
  params: Map<string, string | null>;
}

function readToken(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/** SLASH = SWS "/" SWS (RFC 3261 §25.1); returns the index after it. */
function expectSlash(s: string, i: number): number {
  i = skipWsp(s, i);
  if (s.charCodeAt(i) !== 47) fail('Malformed Via sent-protocol');
  return skipWsp(s, i + 1);
}

/**
 * via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (RFC 3261 §20.42, §25.1);
 * sent-protocol = protocol-name SLASH protocol-version SLASH transport; sent-by = host [ COLON port ].
 */
export function parseVia(value: string): Via {
  const s = value;
  let i = skipWsp(s, 0);
  let j = readToken(s, i);
  const name = s.slice(i, j);
  j = expectSlash(s, j);
  i = readToken(s, j);
  const version = s.slice(j, i);
  i = expectSlash(s, i);
  j = readToken(s, i);
  const transport = s.slice(i, j).toUpperCase();
  if (!name || !version || !transport) fail('Malformed Via sent-protocol');
  i = skipWsp(s, j);
  if (i === j) fail('Missing white space before Via sent-by');
  const hostStart = i;
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0) fail('Malformed Via sent-by');
    i = close + 1;
  } else {
    while (i < s.length && s.charCodeAt(i) !== 59 && s.charCodeAt(i) !== 58 && !isWsp(s.charCodeAt(i))) i++;
  }
  let hostport = s.slice(hostStart, i);
  i = skipWsp(s, i);
  if (s.charCodeAt(i) === 58 /* : */) {
    i = skipWsp(s, i + 1);
    const portStart = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    hostport += ':' + s.slice(portStart, i);
  }
  if (!hostport) fail('Missing Via sent-by');
  const { host, port } = parseHostPort(hostport);
  const params = new Map<string, string | null>();
  readGenericParams(s, i, params);
  const rport = params.get('rport');
  if (rport && (!isDigits(rport) || Number(rport) > 65535)) fail('Malformed Via rport');
  const ttl = params.get('ttl');
  if (ttl !== undefined && (!ttl || !isDigits(ttl) || Number(ttl) > 255)) fail('Malformed Via ttl');
  return { protocol: `${name.toUpperCase()}/${version}`, transport, host, port, params };
}

export function formatVia(v: Via): string {
  const host = v.host.includes(':') && v.host[0] !== '[' ? `[${v.host}]` : v.host;
  const hostport = v.port === undefined ? host : `${host}:${v.port}`;
  return `${v.protocol}/${v.transport} ${hostport}${formatParams(v.params)}`;
}

/** The branch parameter of a Via value (RFC 3261 §8.1.1.7); undefined when absent or empty. */
export function viaBranch(value: string): string | undefined {
  const branch = getHeaderParam(value, 'branch');
  return branch ? branch : undefined;
}

/** Largest sequence number: "MUST be expressed as a 32-bit unsigned integer and MUST be less than 2**31" (§8.1.1.5). */
const MAX_SEQ = 0x7fffffff;

/** 1*DIGIT with no more than 10 digits, as a number; -1 when not. */
function readSeq(s: string): number {
  return isDigits(s) && s.length <= 10 ? Number(s) : -1;
}

/** Split on runs of white space (values are already unfolded). */
function fields(value: string): string[] {
  return value.trim().split(/[ \t]+/);
}

/** CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16); the number must be below 2**31 (§8.1.1.5). */
export function parseCSeq(value: string): { seq: number; method: string } {
  const parts = fields(value);
  if (parts.length !== 2) fail('Malformed CSeq');
  const seq = readSeq(parts[0]);
  if (seq < 0 || seq > MAX_SEQ) fail('CSeq number out of range');
  if (!isToken(parts[1])) fail('Malformed CSeq method');
  return { seq, method: parts[1] };
}

/**
 * RAck = response-num LWS CSeq-num LWS Method (RFC 3262 §7.2); response-num is an RSeq value,
 * 1 to 2**31 - 1 (§7.1).
 */
export function parseRAck(value: string): { rseq: number; cseq: number; method: string } {
  const parts = fields(value);
  if (parts.length !== 3) fail('Malformed RAck');
  const rseq = readSeq(parts[0]);
  const cseq = readSeq(parts[1]);
  if (rseq < 1 || rseq > MAX_SEQ || cseq < 0 || cseq > MAX_SEQ) fail('RAck number out of range');
  if (!isToken(parts[2])) fail('Malformed RAck method');
  return { rseq, cseq, method: parts[2] };
}
