/**
 * Just enough SIP URI handling for the auth policy and the registrar: split a sip:/sips: URI
 * into its parts (RFC 3261 §19.1.1) and compare two URIs (RFC 3261 §19.1.4).
 *
 * The app cannot use the engine's parser (it must run unchanged against a real drachtio-server),
 * and srf's `parseUri` is lenient in ways that matter for comparison (it drops the user-info
 * password and folds parameter names), so this is a small strict reader of our own.
 */

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** user part as written (case-sensitive, §19.1.4), without the password. */
  user?: string;
  password?: string;
  /** lower-cased; IPv6 references keep their brackets. */
  host: string;
  port?: number;
  /** lower-cased names; value null for a flag parameter (`;lr`). */
  params: Map<string, string | null>;
  /** the `?headers` part, verbatim. */
  headers?: string;
}

const URI_RE = /^(sips?):(?:([^@]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-_.!~*'()%]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?(.*))?$/i;

/** Parse a sip: or sips: URI; undefined for anything else (tel:, urn:, garbage). */
export function parseSipUri(text: string): SipUri | undefined {
  const m = URI_RE.exec(text.trim());
  if (!m) return undefined;
  const [, scheme, userinfo, host, port, paramText, headers] = m;
  let user: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (!user) return undefined;
  }
  const params = new Map<string, string | null>();
  for (const p of paramText.split(';').slice(1)) {
    if (!p) return undefined;
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
    if (!name) return undefined;
    params.set(name, eq < 0 ? null : p.slice(eq + 1));
  }
  const portNum = port === undefined ? undefined : Number(port);
  if (portNum !== undefined && (portNum < 1 || portNum > 65535)) return undefined;
  return {
    scheme: scheme.toLowerCase() as 'sip' | 'sips',
    user: user === undefined ? undefined : unescapeUnreserved(user),
    password,
    host: host.toLowerCase(),
    port: portNum,
    params,
    headers,
  };
}

/** §19.1.4: "%41" and "A" are the same character outside the reserved set. */
function unescapeUnreserved(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (all, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-_.!~*'()]/.test(ch) ? ch : all.toUpperCase();
  });
}

/**
 * Parameters that take part in URI equality even when only one side has them (§19.1.4:
 * "user, ttl, method and maddr ... transport"). Other parameters only matter when both URIs
 * carry them; we leave those out of the key, which is the lenient reading registrars use.
 */
const SIGNIFICANT_PARAMS = ['transport', 'user', 'ttl', 'method', 'maddr'];

/**
 * A string that is equal for two URIs exactly when RFC 3261 §19.1.4 calls them equivalent
 * (modulo the "other parameters" leniency above). Non-SIP URIs compare case-insensitively.
 */
export function uriKey(text: string): string {
  const u = parseSipUri(text);
  if (!u) return text.trim().toLowerCase();
  const params = SIGNIFICANT_PARAMS.filter((p) => u.params.has(p)).map((p) => `${p}=${(u.params.get(p) ?? '').toLowerCase()}`);
  const userinfo = u.user === undefined ? '' : `${u.user}${u.password === undefined ? '' : `:${u.password}`}@`;
  return `${u.scheme}:${userinfo}${u.host}${u.port === undefined ? '' : `:${u.port}`};${params.join(';')}`;
}

/** RFC 3261 §19.1.4 equivalence (see uriKey). */
export function sameUri(a: string, b: string): boolean {
  return a.trim() === b.trim() || uriKey(a) === uriKey(b);
}

/** Host without brackets and port: '127.0.0.1:5060' -> '127.0.0.1', '[::1]:5060' -> '::1'. */
export function bareHost(hostport: string): string {
  const h = hostport.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.indexOf(':');
  return colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h;
}
