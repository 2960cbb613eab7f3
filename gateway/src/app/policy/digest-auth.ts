/**
 * Digest authentication as drachtio-srf middleware: RFC 3261 §22 with the RFC 7616 digest
 * (qop=auth, cnonce, nc, opaque, stale) and the RFC 8760 algorithms for SIP (SHA-256, MD5).
 *
 *   srf.use('register', digestAuth({ realm, lookupUser }));                       // 401
 *   srf.use('invite', digestAuth({ realm, lookupUser, challengeCode: 407 }));      // 407
 *
 * Users carry only HA1 = H(username:realm:password) per algorithm (config/schema.ts), so the
 * server never needs or sees a password.
 *
 * Outcomes:
 * - no credentials for our realm -> 401/407 with one challenge per algorithm, SHA-256 first
 *   (RFC 8760 §2.4: the server lists the algorithms it prefers first);
 * - malformed credentials (syntax, missing parameter, qop/algorithm we did not offer,
 *   uri different from the Request-URI) -> 400;
 * - well-formed but unknown user or wrong response -> 403, indistinguishable on the wire and
 *   in timing (a dummy HA1 is hashed for unknown users) so usernames cannot be enumerated;
 * - correct response but expired / foreign nonce, or a replayed nc -> 401/407 stale=true: the
 *   client provably knows the password (RFC 7616 §3.3 "stale"), it just needs a fresh nonce; a
 *   replaying attacker cannot answer the new challenge, so nothing is gained by refusing louder;
 * - success -> req.authenticatedUser (and authenticatedUserOf(req)) set, next() called.
 * Failures are logged with the source address, the username and the reason, never the
 * response, HA1 or anything derived from the password.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { credentialAlgorithm, formatChallenge, joinAsHeaderLines, parseCredentials, AuthSyntaxError, type DigestAlgorithm } from './digest-syntax';
import { NonceManager } from './nonce';
import { sameUri } from './sip-uri';

const log = createLogger('digest-auth');

export interface DigestUser {
  username: string;
  /** HA1 per algorithm, lower-case hex (RFC 7616 §3.4.2; RFC 8760 §2.3). */
  ha1: { md5: string; sha256: string };
}

export type LookupUser = (username: string) => DigestUser | undefined | Promise<DigestUser | undefined>;

export interface DigestAuthOptions {
  realm: string;
  lookupUser: LookupUser;
  /** 401 (UAS/registrar: WWW-Authenticate) or 407 (proxy/B2BUA: Proxy-Authenticate). */
  challengeCode?: 401 | 407;
  /** Nonce lifetime when no NonceManager is given (default 300 s). */
  nonceTtlSeconds?: number;
  /** Offered algorithms, most preferred first (default SHA-256, MD5). */
  algorithms?: readonly DigestAlgorithm[];
  /** Share nonces (and their replay state) between middlewares. */
  nonces?: NonceManager;
  /** Requests that need no authentication (e.g. trusted trunks). */
  skip?: (req: Srf.SrfRequest) => boolean;
}

export type Next = (err?: unknown) => void;
export type Middleware = (req: Srf.SrfRequest, res: Srf.SrfResponse, next: Next) => void;

export interface DigestAuthMiddleware extends Middleware {
  readonly nonces: NonceManager;
  close(): void;
}

export type Verdict =
  | { kind: 'ok'; username: string; algorithm: DigestAlgorithm }
  | { kind: 'challenge'; stale: boolean; reason: string; username?: string }
  | { kind: 'forbidden'; reason: string; username: string }
  | { kind: 'bad-request'; reason: string; username?: string };

const authenticated = new WeakMap<object, string>();

/** The user a digestAuth middleware authenticated this request as. */
export function authenticatedUserOf(req: object): string | undefined {
  return authenticated.get(req);
}

const HASH: Record<DigestAlgorithm, { node: string; hexLength: number }> = {
  MD5: { node: 'md5', hexLength: 32 },
  'SHA-256': { node: 'sha256', hexLength: 64 },
};

function h(alg: DigestAlgorithm, s: string): string {
  return createHash(HASH[alg].node).update(s, 'utf8').digest('hex');
}

/** Constant-time comparison of two lower-case hex strings of the algorithm's length. */
function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface VerifyInput {
  realm: string;
  method: string;
  requestUri: string;
  /** The Authorization / Proxy-Authorization value (lines comma-joined by srf), if any. */
  header: string | undefined;
  algorithms: readonly DigestAlgorithm[];
  nonces: NonceManager;
  lookupUser: LookupUser;
}

/** RFC 7616 §3.4 / RFC 3261 §22.4 verification of one request's credentials. */
export async function verifyDigest(v: VerifyInput): Promise<Verdict> {
  if (!v.header) return { kind: 'challenge', stale: false, reason: 'no credentials' };
  let all;
  try {
    all = parseCredentials(v.header);
  } catch (err) {
    if (err instanceof AuthSyntaxError) return { kind: 'bad-request', reason: `malformed credentials: ${err.message}` };
    throw err;
  }
  // RFC 3261 §22.3: use the credentials for our realm; others belong to other hops.
  const creds = all.find((c) => c.scheme.toLowerCase() === 'digest' && c.params.get('realm') === v.realm);
  if (!creds) return { kind: 'challenge', stale: false, reason: 'no credentials for this realm' };
  const p = creds.params;
  const username = p.get('username');
  const bad = (reason: string): Verdict => ({ kind: 'bad-request', reason, username });
  if (p.get('userhash')?.toLowerCase() === 'true' || p.has('username*')) return bad('userhash / username* not offered');
  if (!username) return bad('username missing');
  for (const name of ['nonce', 'uri', 'response']) if (!p.get(name)) return bad(`${name} missing`);
  const algorithm = credentialAlgorithm(p.get('algorithm'));
  if (!algorithm || !v.algorithms.includes(algorithm)) return bad(`algorithm ${p.get('algorithm')} not offered`);
  // We always offer qop=auth, so RFC 2069-style credentials (no qop, cnonce, nc) are refused:
  // without nc there is no replay protection (RFC 7616 §3.4 makes qop mandatory).
  const qop = p.get('qop');
  if (qop?.toLowerCase() !== 'auth') return bad(qop ? `qop=${qop} not offered` : 'qop=auth required');
  for (const name of ['cnonce', 'nc']) if (!p.get(name)) return bad(`${name} missing (required with qop)`);
  const ncText = p.get('nc')!;
  if (!/^[0-9a-fA-F]{8}$/.test(ncText) || parseInt(ncText, 16) === 0) return bad('nc must be 8 hex digits, from 00000001');
  const response = p.get('response')!.toLowerCase();
  if (response.length !== HASH[algorithm].hexLength || !/^[0-9a-f]+$/.test(response)) return bad(`response is not an ${algorithm} digest`);
  const uri = p.get('uri')!;
  // RFC 7616 §3.4.6: the uri must name the resource of the request line.
  if (!sameUri(uri, v.requestUri)) return bad('uri does not match the Request-URI');

  const nonce = p.get('nonce')!;
  const opaque = p.get('opaque');
  const nonceStatus = opaque !== undefined && opaque !== v.nonces.opaque ? 'invalid' : v.nonces.check(nonce);

  const user = await v.lookupUser(username);
  // Unknown users cost the same hashing as known ones (no timing oracle for enumeration).
  const ha1 = user ? (algorithm === 'MD5' ? user.ha1.md5 : user.ha1.sha256).toLowerCase() : randomBytes(HASH[algorithm].hexLength / 2).toString('hex');
  const ha2 = h(algorithm, `${v.method}:${uri}`);
  const expected = h(algorithm, `${ha1}:${nonce}:${ncText}:${p.get('cnonce')}:${qop}:${ha2}`);
  const match = hexEqual(expected, response);
  if (!user) return { kind: 'forbidden', reason: 'unknown user', username };
  if (!match) return { kind: 'forbidden', reason: 'wrong password', username };
  if (nonceStatus !== 'valid') {
    return { kind: 'challenge', stale: true, reason: nonceStatus === 'expired' ? 'nonce expired' : 'nonce not issued by this server', username };
  }
  if (!v.nonces.acceptNonceCount(nonce, parseInt(ncText, 16))) {
    return { kind: 'challenge', stale: true, reason: 'nonce count replayed or out of order', username };
  }
  return { kind: 'ok', username, algorithm };
}

function source(req: Srf.SrfRequest): string {
  return `${req.protocol}/${req.source_address}:${req.source_port}`;
}

/** srf middleware; see the file comment. */
export function digestAuth(opts: DigestAuthOptions): DigestAuthMiddleware {
  const code = opts.challengeCode ?? 401;
  const authzHeader = code === 401 ? 'Authorization' : 'Proxy-Authorization';
  const challengeHeader = code === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
  const algorithms = opts.algorithms?.length ? [...opts.algorithms] : (['SHA-256', 'MD5'] as DigestAlgorithm[]);
  const ownsNonces = !opts.nonces;
  const nonces = opts.nonces ?? new NonceManager({ realm: opts.realm, ttlSeconds: opts.nonceTtlSeconds ?? 300 });

  const challenge = (res: Srf.SrfResponse, stale: boolean): void => {
    const nonce = nonces.issue();
    const values = algorithms.map((algorithm) => formatChallenge({ realm: opts.realm, nonce, opaque: nonces.opaque, algorithm, stale }));
    res.send(code, { headers: { [challengeHeader]: joinAsHeaderLines(challengeHeader, values) } });
  };

  const act = (req: Srf.SrfRequest, res: Srf.SrfResponse, next: Next, verdict: Verdict): void => {
    const ctx = { src: source(req), method: req.method, callId: req.get('Call-ID'), user: 'username' in verdict ? verdict.username : undefined };
    switch (verdict.kind) {
      case 'ok':
        authenticated.set(req, verdict.username);
        (req as unknown as { authenticatedUser?: string }).authenticatedUser = verdict.username;
        log.debug({ ...ctx, algorithm: verdict.algorithm }, 'digest authentication succeeded');
        return next();
      case 'challenge':
        if (verdict.stale) log.info({ ...ctx, reason: verdict.reason }, 'digest credentials need a fresh nonce (stale=true)');
        else log.debug({ ...ctx, reason: verdict.reason }, 'challenging request');
        return challenge(res, verdict.stale);
      case 'forbidden':
        log.warn({ ...ctx, reason: verdict.reason }, 'digest authentication failed');
        return res.send(403, 'Forbidden', {});
      case 'bad-request':
        log.warn({ ...ctx, reason: verdict.reason }, 'malformed digest credentials');
        return res.send(400, `Bad Request - ${verdict.reason}`.replace(/[\r\n]/g, ' ').slice(0, 120), {});
    }
  };

  const middleware = ((req: Srf.SrfRequest, res: Srf.SrfResponse, next: Next): void => {
    // RFC 3261 §22.1: ACK and CANCEL cannot be challenged.
    if (req.method === 'ACK' || req.method === 'CANCEL' || opts.skip?.(req)) return next();
    const input: VerifyInput = {
      realm: opts.realm,
      method: req.method,
      requestUri: req.uri,
      header: req.get(authzHeader),
      algorithms,
      nonces,
      lookupUser: opts.lookupUser,
    };
    verifyDigest(input)
      .then((verdict) => act(req, res, next, verdict))
      .catch((err: unknown) => {
        log.error({ src: source(req), method: req.method, err: (err as Error)?.message ?? String(err) }, 'digest authentication error');
        if (!res.finalResponseSent) res.send(500, 'Server Internal Error', {});
      });
  }) as DigestAuthMiddleware;
  Object.defineProperty(middleware, 'nonces', { value: nonces });
  middleware.close = () => {
    if (ownsNonces) nonces.close();
  };
  return middleware;
}
