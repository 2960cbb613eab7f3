// Bench app: a minimal digest registrar (RFC 3261 §10.3, RFC 2617 / RFC 7616 MD5). Challenges a
// REGISTER without credentials with 401, verifies the Authorization response, answers 200 with
// the Contact. Users are "user<N>" with password "pw-user<N>" (the bench's SIPp injection file).
import { createHash, randomBytes } from 'node:crypto';
import { startApp } from './app-common.mjs';

const REALM = 'bench.local';
const NONCE_TTL_MS = 30_000;
const MAX_NONCES = 200_000;

const counters = { registers: 0, challenged: 0, accepted: 0, rejected: 0, errors: 0, bindings: 0 };
const rejectReasons = {};
const nonces = new Map(); // nonce -> issued at (ms); insertion-ordered, so the oldest come first
const bindings = new Map(); // user -> contact

const md5 = (s) => createHash('md5').update(s).digest('hex');
const passwordOf = (user) => `pw-${user}`;

function newNonce() {
  if (nonces.size >= MAX_NONCES) nonces.delete(nonces.keys().next().value);
  const nonce = randomBytes(16).toString('hex');
  nonces.set(nonce, Date.now());
  return nonce;
}

/** Parses `Digest a="b", c=d` into { a: 'b', c: 'd' }; undefined when not a Digest header. */
export function parseDigest(header) {
  const m = /^\s*Digest\s+(.*)$/is.exec(header ?? '');
  if (!m) return undefined;
  const params = {};
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p;
  let guard = 0;
  while ((p = re.exec(m[1])) !== null && guard++ < 32) params[p[1].toLowerCase()] = p[2] ?? p[3];
  return params;
}

/** undefined when the Authorization credentials answer a live nonce with the right password, else why not. */
function verify(method, auth) {
  if (!auth?.username || !auth.nonce || !auth.uri || !auth.response) return 'incomplete credentials';
  const issued = nonces.get(auth.nonce);
  if (issued === undefined || Date.now() - issued > NONCE_TTL_MS) return 'unknown or stale nonce';
  if ((auth.realm ?? '') !== REALM) return 'wrong realm';
  if (auth.algorithm && auth.algorithm.toUpperCase() !== 'MD5') return 'unsupported algorithm';
  const ha1 = md5(`${auth.username}:${REALM}:${passwordOf(auth.username)}`);
  const ha2 = md5(`${method}:${auth.uri}`);
  const expected = auth.qop
    ? md5(`${ha1}:${auth.nonce}:${auth.nc}:${auth.cnonce}:${auth.qop}:${ha2}`)
    : md5(`${ha1}:${auth.nonce}:${ha2}`);
  if (expected !== auth.response.toLowerCase()) return 'wrong response';
  nonces.delete(auth.nonce); // one REGISTER per challenge in this bench
  return undefined;
}

const srf = startApp('registrar-app', () => ({ ...counters, bindings: bindings.size, nonces: nonces.size, rejectReasons: { ...rejectReasons } }));

srf.register((req, res) => {
  counters.registers++;
  try {
    const authHeader = req.get('Authorization');
    if (!authHeader) {
      counters.challenged++;
      res.send(401, {
        headers: { 'WWW-Authenticate': `Digest realm="${REALM}", nonce="${newNonce()}", algorithm=MD5, qop="auth"` },
      });
      return;
    }
    const auth = parseDigest(authHeader);
    const why = verify('REGISTER', auth);
    if (why) {
      counters.rejected++;
      rejectReasons[why] = (rejectReasons[why] ?? 0) + 1;
      if (process.env.BENCH_DEBUG) process.stderr.write(`reject (${why}): ${authHeader}\n`);
      res.send(403);
      return;
    }
    const contact = req.get('Contact');
    bindings.set(auth.username, contact);
    counters.accepted++;
    res.send(200, { headers: { Contact: `${contact};expires=3600`, Expires: '3600' } });
  } catch {
    counters.errors++;
    res.send(500);
  }
});
