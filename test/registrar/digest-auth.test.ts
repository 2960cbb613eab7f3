/**
 * Digest authentication on the wire (RFC 3261 §22, RFC 7616, RFC 8760): raw UDP/TCP peers
 * against the engine + srf app + registrar, responses computed in the test with node:crypto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestAuth, authenticatedUserOf } from '../../gateway/src/app/policy/digest-auth';
import { userWithPassword } from '../../gateway/src/config/loader';
import { header, headers, routed, statusOf, tcpPeer, udpPeer, type RawPeer } from '../engine/engine-fixture';
import {
  DOMAIN, PASSWORDS, REALM, authorization, challenges, client, contacts, delay, exchange, register, registerText, startStack, type Stack,
} from './registrar-fixture';

let stack: Stack;
let udp: RawPeer;

beforeAll(async () => {
  stack = await startStack();
  udp = await udpPeer(stack.running.port('udp'));
});
afterAll(async () => {
  udp.close();
  await stack.stop();
});

const RURI = `sip:${DOMAIN}`;

describe('challenge', () => {
  it('401 offers SHA-256 then MD5 as two WWW-Authenticate header lines, qop=auth, opaque, one realm', async () => {
    const c = client(udp, 'UDP', 'alice');
    const res = await exchange(c, registerText(c));
    expect(statusOf(res)).toBe(401);
    const lines = headers(res, 'WWW-Authenticate');
    expect(lines).toHaveLength(2);
    const [sha, md5] = challenges(res);
    expect(sha.algorithm).toBe('SHA-256');
    expect(md5.algorithm).toBe('MD5');
    for (const ch of [sha, md5]) {
      expect(ch.realm).toBe(REALM);
      expect(ch.qop).toBe('auth');
      expect(ch.opaque).toBeTruthy();
      expect(ch.nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(ch.stale).toBeUndefined();
    }
    expect(lines[0]).toMatch(/^Digest /);
  });
});

describe('successful registration', () => {
  it('MD5: 200 lists the contact with its expires', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { algorithm: 'MD5', expires: 300 });
    expect(statusOf(res)).toBe(200);
    const list = contacts(res);
    expect(list).toContain(`<${c.contactUri}>;expires=300`);
    expect(header(res, 'Date')).toMatch(/GMT$/);
    expect(stack.registrar.lookup('alice').map((b) => b.uri)).toContain(c.contactUri);
  });

  it('SHA-256 (RFC 8760): 200', async () => {
    const c = client(udp, 'UDP', 'bob');
    const { res } = await register(c, { algorithm: 'SHA-256', expires: 120 });
    expect(statusOf(res)).toBe(200);
    expect(contacts(res)).toContain(`<${c.contactUri}>;expires=120`);
    const b = stack.registrar.lookup('sip:bob@gateway.test')[0];
    expect(b).toMatchObject({ user: 'bob', uri: c.contactUri, expires: 120, source: { transport: 'UDP', address: '127.0.0.1', port: udp.port, protocol: 'udp' } });
  });

  it('credentials without an algorithm parameter are MD5 (RFC 7616 §3.4)', async () => {
    const c = client(udp, 'UDP', 'alice');
    const first = await exchange(c, registerText(c));
    const md5 = challenges(first).find((x) => x.algorithm === 'MD5')!;
    const res = await exchange(c, registerText(c, { authorization: authorization(md5, { uri: RURI, algorithm: false }) }));
    expect(statusOf(res)).toBe(200);
  });

  it('a nonce may be reused with a higher nc', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { challenge } = await register(c);
    const res = await exchange(c, registerText(c, { authorization: authorization(challenge, { uri: RURI, nc: 2 }) }));
    expect(statusOf(res)).toBe(200);
  });

  it('works over TCP too', async () => {
    const tcp = await tcpPeer(stack.running.port('tcp'));
    try {
      const c = client(tcp, 'TCP', 'bob');
      const { res } = await register(c, { algorithm: 'SHA-256' });
      expect(statusOf(res)).toBe(200);
      expect(stack.registrar.lookup('bob').find((b) => b.uri === c.contactUri)?.source.transport).toBe('TCP');
    } finally {
      tcp.close();
    }
  });
});

describe('refusals', () => {
  it('wrong password -> 403', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { password: 'guess' });
    expect(statusOf(res)).toBe(403);
    expect(stack.registrar.lookup('alice').some((b) => b.uri === c.contactUri)).toBe(false);
  });

  // 403, not 404: the same answer as a wrong password, so usernames cannot be enumerated
  // (404 is for an authenticated request whose AOR is not ours, RFC 3261 §10.3 step 5).
  it('unknown user -> 403, like a wrong password', async () => {
    const c = client(udp, 'UDP', 'mallory');
    const { res } = await register(c, { password: 'whatever' });
    expect(statusOf(res)).toBe(403);
  });

  it('alice may not register bob (RFC 3261 §10.3 step 4) -> 403', async () => {
    const c = client(udp, 'UDP', 'bob');
    const { res } = await register(c, { authUser: 'alice', password: PASSWORDS.alice });
    expect(statusOf(res)).toBe(403);
  });

  // A replay proves nothing about the sender, so it is not "forbidden" to the real user: a fresh
  // stale=true challenge lets a client that knows the password continue; a replayer cannot.
  it('a replayed (nonce, nc) -> 401 stale=true with a fresh nonce', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res, challenge, authorization: auth } = await register(c);
    expect(statusOf(res)).toBe(200);
    const replay = await exchange(c, registerText(c, { authorization: auth }));
    expect(statusOf(replay)).toBe(401);
    const fresh = challenges(replay);
    expect(fresh.every((ch) => ch.stale === 'true' && ch.nonce !== challenge.nonce)).toBe(true);
    // nc must increase: going back is refused as well
    const two = await exchange(c, registerText(c, { authorization: authorization(challenge, { uri: RURI, nc: 3 }) }));
    expect(statusOf(two)).toBe(200);
    const back = await exchange(c, registerText(c, { authorization: authorization(challenge, { uri: RURI, nc: 2 }) }));
    expect(statusOf(back)).toBe(401);
    // and the fresh nonce works
    const ok = await exchange(c, registerText(c, { authorization: authorization(fresh[1], { uri: RURI }) }));
    expect(statusOf(ok)).toBe(200);
  });

  it('a nonce that this server never issued, with a right digest -> 401 stale=true', async () => {
    const c = client(udp, 'UDP', 'alice');
    const forged = { realm: REALM, nonce: 'A'.repeat(44), algorithm: 'MD5' };
    const res = await exchange(c, registerText(c, { authorization: authorization(forged, { uri: RURI }) }));
    expect(statusOf(res)).toBe(401);
    expect(challenges(res)[0].stale).toBe('true');
  });

  it('credentials for another realm only -> plain 401 challenge', async () => {
    const c = client(udp, 'UDP', 'alice');
    const first = await exchange(c, registerText(c));
    const res = await exchange(c, registerText(c, { authorization: authorization(challenges(first)[1], { uri: RURI, realm: 'elsewhere' }) }));
    expect(statusOf(res)).toBe(401);
    expect(challenges(res)[0].stale).toBeUndefined();
  });

  it('our credentials next to another hop\'s (two Authorization lines, RFC 3261 §22.3) -> 200', async () => {
    const c = client(udp, 'UDP', 'alice');
    const ours = challenges(await exchange(c, registerText(c)))[0];
    const theirs = authorization({ realm: 'upstream.example', nonce: 'abc' }, { uri: RURI, password: 'other' });
    const res = await exchange(c, registerText(c, { authorization: theirs, extra: `Authorization: ${authorization(ours, { uri: RURI })}\r\n` }));
    expect(statusOf(res)).toBe(200);
  });

  it('malformed Authorization -> 400, never a crash', async () => {
    const c = client(udp, 'UDP', 'alice');
    const ch = challenges(await exchange(c, registerText(c)))[1];
    const good = authorization(ch, { uri: RURI });
    const bad = [
      'Digest username="alice", realm="gateway.test", nonce="unterminated',
      `Digest username="alice", realm="${REALM}", nonce="${ch.nonce}", uri="${RURI}"`, // no response
      good.replace(/nc=\w+/, 'nc=1'), // nc must be 8 hex digits
      good.replace('qop=auth', 'qop=auth-int'),
      good.replace(/, qop=auth, nc=\w+, cnonce="\w+"/, ''), // qop missing
      good.replace(/, cnonce="\w+"/, ''), // cnonce missing with qop
      good.replace(`uri="${RURI}"`, 'uri="sip:other.example"'), // uri is not the Request-URI
      good.replace('algorithm=MD5', 'algorithm=SHA-512-256'),
      good.replace(/response="\w+"/, 'response="xyz"'),
      'Digest ,,,=',
    ];
    for (const a of bad) {
      const res = await exchange(c, registerText(c, { authorization: a }));
      expect(statusOf(res), a).toBe(400);
    }
    // still alive and well
    expect(statusOf((await register(c)).res)).toBe(200);
  });
});

describe('nonce expiry', () => {
  it('an expired nonce with a right digest -> 401 stale=true; with a wrong one -> 403', async () => {
    const short = await startStack({ registrar: { nonceTtlSeconds: 1 } });
    const peer = await udpPeer(short.running.port('udp'));
    try {
      const c = client(peer, 'UDP', 'alice');
      const ch = challenges(await exchange(c, registerText(c)))[0];
      await delay(1200);
      const res = await exchange(c, registerText(c, { authorization: authorization(ch, { uri: RURI }) }));
      expect(statusOf(res)).toBe(401);
      expect(challenges(res).map((x) => x.stale)).toEqual(['true', 'true']);
      const wrong = await exchange(c, registerText(c, { authorization: authorization(ch, { uri: RURI, password: 'nope' }) }));
      expect(statusOf(wrong)).toBe(403);
      const ok = await exchange(c, registerText(c, { authorization: authorization(challenges(res)[0], { uri: RURI }) }));
      expect(statusOf(ok)).toBe(200);
    } finally {
      peer.close();
      await short.stop();
    }
  });
});

describe('407 for other requests (proxy-style)', () => {
  it('MESSAGE gets 407 with two Proxy-Authenticate lines, then passes with Proxy-Authorization', async () => {
    const users = new Map(Object.entries(PASSWORDS).map(([u, p]) => [u, userWithPassword(u, REALM, p)]));
    const mw = digestAuth({ realm: REALM, lookupUser: (u) => users.get(u), challengeCode: 407 });
    stack.srf.use('message', mw as never);
    stack.srf.use('message', (req, res) => res.send(200, { headers: { 'X-Authenticated-User': authenticatedUserOf(req) ?? 'none' } }));
    await routed(stack.running.engine, 'message');
    const ruri = `sip:bob@${DOMAIN}`;
    const message = (extra = '', cseq = 1): string =>
      `MESSAGE ${ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${udp.port};branch=z9hG4bK-m${cseq}-${Date.now()};rport\r\nMax-Forwards: 70\r\n` +
      `From: <sip:alice@${DOMAIN}>;tag=m1\r\nTo: <${ruri}>\r\nCall-ID: msg-${Date.now()}\r\nCSeq: ${cseq} MESSAGE\r\n${extra}` +
      `Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi`;
    const c = client(udp, 'UDP', 'alice');
    const first = await exchange(c, message());
    expect(statusOf(first)).toBe(407);
    expect(headers(first, 'WWW-Authenticate')).toHaveLength(0);
    const chs = challenges(first, 'Proxy-Authenticate');
    expect(chs.map((x) => x.algorithm)).toEqual(['SHA-256', 'MD5']);
    const auth = authorization(chs[0], { method: 'MESSAGE', uri: ruri });
    const ok = await exchange(c, message(`Proxy-Authorization: ${auth}\r\n`, 2));
    expect(statusOf(ok)).toBe(200);
    expect(header(ok, 'X-Authenticated-User')).toBe('alice');
    mw.close();
  });
});

describe('results seen by the registrar', () => {
  it('counts accepted and rejected REGISTERs; failed attempts left no binding', () => {
    const s = stack.registrar.stats();
    expect(s.registers.accepted).toBeGreaterThanOrEqual(8);
    // 403 from the handler (alice registering bob); auth failures never reach it
    expect(s.registers.rejected).toBeGreaterThanOrEqual(1);
    expect(s.bindings).toBe(stack.registrar.lookup('alice').length + stack.registrar.lookup('bob').length);
    expect(s.byTransport).toMatchObject({ UDP: expect.any(Number), TCP: 1 });
  });
});
