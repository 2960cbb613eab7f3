/**
 * Digest header syntax: reading Authorization / Proxy-Authorization credentials and writing
 * WWW-Authenticate / Proxy-Authenticate challenges.
 *
 * Grammar: RFC 3261 §25.1 (credentials = "Digest" LWS digest-response *(COMMA dig-resp)),
 * RFC 7616 §3.3/§3.4 (parameters, quoting), RFC 8760 §2 (algorithm tokens for SIP).
 *
 * srf hands the app repeated header lines joined by commas on one line (drachtio-protocol §4.7),
 * so one value may hold several credentials: "Digest a=1, b=2, Digest a=3". A new credential
 * starts where a token is followed by whitespace and another token instead of by "=".
 */

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface Credentials {
  /** as written, e.g. "Digest" */
  scheme: string;
  /** parameter names lower-cased, values unquoted */
  params: Map<string, string>;
}

export class AuthSyntaxError extends Error {}

/** Longest header value we agree to parse; real credentials are a few hundred bytes. */
const MAX_LENGTH = 8192;
const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }

  skipSpace(): void {
    while (!this.done && (this.s[this.i] === ' ' || this.s[this.i] === '\t')) this.i++;
  }

  token(): string {
    const start = this.i;
    while (!this.done && TOKEN_CHAR.test(this.s[this.i])) this.i++;
    return this.s.slice(start, this.i);
  }

  quoted(): string {
    // RFC 3261 §25.1 quoted-string with quoted-pair escapes.
    this.i++; // opening quote
    let out = '';
    while (!this.done) {
      const ch = this.s[this.i++];
      if (ch === '"') return out;
      if (ch === '\\') {
        if (this.done) break;
        out += this.s[this.i++];
      } else {
        out += ch;
      }
    }
    throw new AuthSyntaxError('unterminated quoted-string');
  }

  /** After a comma: is the next thing a parameter (token "=") or a new scheme? */
  startsParam(): boolean {
    const save = this.i;
    this.skipSpace();
    const t = this.token();
    this.skipSpace();
    const isParam = t.length > 0 && this.s[this.i] === '=';
    this.i = save;
    return isParam;
  }
}

/** Parse one header value holding one or more credentials. Throws AuthSyntaxError. */
export function parseCredentials(value: string): Credentials[] {
  if (value.length > MAX_LENGTH) throw new AuthSyntaxError('header too long');
  const r = new Reader(value);
  const out: Credentials[] = [];
  for (;;) {
    r.skipSpace();
    while (!r.done && r.s[r.i] === ',') {
      r.i++;
      r.skipSpace();
    }
    if (r.done) break;
    const scheme = r.token();
    if (!scheme) throw new AuthSyntaxError(`expected an auth scheme at offset ${r.i}`);
    if (r.s[r.i] !== ' ' && r.s[r.i] !== '\t') throw new AuthSyntaxError('expected whitespace after the auth scheme');
    const params = new Map<string, string>();
    for (;;) {
      r.skipSpace();
      const name = r.token().toLowerCase();
      if (!name) throw new AuthSyntaxError(`expected a parameter name at offset ${r.i}`);
      r.skipSpace();
      if (r.s[r.i] !== '=') throw new AuthSyntaxError(`expected "=" after ${name}`);
      r.i++;
      r.skipSpace();
      const v = r.s[r.i] === '"' ? r.quoted() : r.token();
      if (params.has(name)) throw new AuthSyntaxError(`duplicate parameter ${name}`);
      params.set(name, v);
      r.skipSpace();
      if (r.done) break;
      if (r.s[r.i] !== ',') throw new AuthSyntaxError(`unexpected "${r.s[r.i]}" at offset ${r.i}`);
      r.i++;
      if (!r.startsParam()) break;
    }
    out.push({ scheme, params });
  }
  if (!out.length) throw new AuthSyntaxError('empty credentials');
  return out;
}

/** RFC 3261 §25.1 quoted-string: escape the quote and the backslash. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface ChallengeParams {
  realm: string;
  nonce: string;
  opaque: string;
  algorithm: DigestAlgorithm;
  stale: boolean;
}

/**
 * One challenge (RFC 7616 §3.3): realm, nonce, opaque, algorithm, qop="auth", stale=true only
 * when the previous attempt failed for nothing but its nonce.
 */
export function formatChallenge(p: ChallengeParams): string {
  const parts = [
    `realm=${quote(p.realm)}`,
    `nonce=${quote(p.nonce)}`,
    `opaque=${quote(p.opaque)}`,
    `algorithm=${p.algorithm}`,
    'qop="auth"',
  ];
  if (p.stale) parts.push('stale=true');
  return `Digest ${parts.join(', ')}`;
}

/**
 * Several challenges as ONE srf header value that still reaches the wire as separate header
 * lines. RFC 3261 §7.3.1 forbids folding WWW-Authenticate/Proxy-Authenticate into one
 * comma-joined line (their grammar is not a comma list), and SIP.js 0.21 drops a 401 whose
 * WWW-Authenticate it cannot parse. srf offers one value per header name, but it writes that
 * value verbatim, and drachtio-server and our engine both split the app's SIP text into header
 * lines at CRLF (drachtio-protocol §1.4): the CRLF here becomes a line break, not part of a value.
 */
export function joinAsHeaderLines(headerName: string, values: string[]): string {
  return values.join(`\r\n${headerName}: `);
}

/** Algorithm named in credentials: absent means MD5 (RFC 7616 §3.4); names are case-insensitive. */
export function credentialAlgorithm(raw: string | undefined): DigestAlgorithm | undefined {
  if (raw === undefined) return 'MD5';
  const up = raw.toUpperCase();
  if (up === 'MD5') return 'MD5';
  if (up === 'SHA-256') return 'SHA-256';
  return undefined;
}
