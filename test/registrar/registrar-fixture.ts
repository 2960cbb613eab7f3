/**
 * A running stack for registrar tests: the engine in-process on loopback (UDP, TCP, WS and
 * optionally TLS), a real drachtio-srf app connected to it, and the registrar installed with two
 * users. Plus a raw-SIP client side that builds REGISTERs and answers digest challenges with
 * its own node:crypto code (independent of gateway/src/app/policy).
 */
import { createHash, randomBytes } from 'node:crypto';
import tls from 'node:tls';
import type Srf from 'drachtio-srf';
import { userWithPassword } from '../../gateway/src/config/loader';
import type { RegistrarConfig } from '../../gateway/src/config/schema';
import { createRegistrar, type Registrar, type RegistrarOptions } from '../../gateway/src/app/registrar';
import type { EngineConfig } from '../../gateway/src/engine/core/engine';
import { connectApp, header, headers, routed, startEngine, statusOf, type RawPeer, type RunningEngine } from '../engine/engine-fixture';

export const REALM = 'gateway.test';
export const DOMAIN = 'gateway.test';
export const PASSWORDS: Record<string, string> = { alice: 'alice-secret', bob: 'bob-s3cret' };

export interface Stack {
  running: RunningEngine;
  srf: Srf;
  registrar: Registrar;
  stop(): Promise<void>;
}

export async function startStack(
  opts: { registrar?: Partial<RegistrarConfig>; options?: RegistrarOptions; engine?: Partial<EngineConfig> } = {},
): Promise<Stack> {
  const running = await startEngine(opts.engine);
  const srf = await connectApp(running.engine);
  const registrar = createRegistrar(
    srf,
    {
      realm: REALM,
      domain: DOMAIN,
      registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 600, wsGraceMs: 5000, nonceTtlSeconds: 300, ...opts.registrar },
    },
    Object.entries(PASSWORDS).map(([u, p]) => userWithPassword(u, REALM, p)),
    opts.options,
  );
  await routed(running.engine, 'register');
  return {
    running,
    srf,
    registrar,
    stop: async () => {
      registrar.close();
      srf.disconnect();
      await running.stop();
    },
  };
}

/** A raw SIP peer over TLS (the engine fixture has UDP/TCP/WS ones); frames by Content-Length. */
export async function tlsPeer(targetPort: number): Promise<RawPeer> {
  const socket = tls.connect({ port: targetPort, host: '127.0.0.1', rejectUnauthorized: false });
  await new Promise<void>((r, j) => socket.once('secureConnect', () => r()).once('error', j));
  const received: string[] = [];
  const waiters: Array<{ pred: (m: string) => boolean; resolve: (m: string) => void }> = [];
  let cursor = 0;
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, end));
      const total = end + 4 + (cl ? Number(cl[1]) : 0);
      if (buf.length < total) return;
      const m = buf.slice(0, total);
      buf = buf.slice(total);
      received.push(m);
      const i = waiters.findIndex((w) => w.pred(m));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
    }
  });
  socket.on('error', () => {});
  return {
    port: socket.localPort ?? 0,
    received,
    send: (text) => socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text),
    next: (pred = () => true, timeoutMs = 5000) => {
      for (; cursor < received.length; cursor++) if (pred(received[cursor])) return Promise.resolve(received[cursor++]);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no matching SIP message over TLS')), timeoutMs);
        waiters.push({ pred, resolve: (m) => { clearTimeout(t); cursor = received.length; resolve(m); } });
      });
    },
    close: () => socket.destroy(),
  };
}

// ---- building requests ---------------------------------------------------------------------

export type Proto = 'UDP' | 'TCP' | 'TLS' | 'WS';

export interface Client {
  peer: RawPeer;
  proto: Proto;
  /** port in Via/Contact (UDP/TCP/TLS: the peer's own; WS: none, .invalid host) */
  port: number;
  user: string;
  /** the peer's Contact URI */
  contactUri: string;
  callId: string;
  cseq: number;
}

let n = 0;
const uniq = (): string => `${++n}-${randomBytes(4).toString('hex')}`;

export function client(peer: RawPeer, proto: Proto, user: string, port = peer.port): Client {
  const host = proto === 'WS' ? `${randomBytes(4).toString('hex')}.invalid` : `127.0.0.1:${port}`;
  const transport = proto === 'UDP' ? '' : `;transport=${proto.toLowerCase()}`;
  const id = randomBytes(3).toString('hex');
  return { peer, proto, port, user, contactUri: `sip:${user}-${id}@${host}${transport}`, callId: `reg-${uniq()}`, cseq: 0 };
}

export interface RegisterOpts {
  /** Contact header value(s); default `<contactUri>`; null = no Contact (query) */
  contact?: string | null;
  expires?: number | string;
  ruri?: string;
  toUser?: string;
  toHost?: string;
  authorization?: string;
  extra?: string;
  callId?: string;
  cseq?: number;
}

export function registerText(c: Client, o: RegisterOpts = {}): string {
  const cseq = o.cseq ?? ++c.cseq;
  const via = c.proto === 'WS' ? `SIP/2.0/WS ${c.contactUri.split('@')[1].split(';')[0]}` : `SIP/2.0/${c.proto} 127.0.0.1:${c.port}`;
  const toHost = o.toHost ?? DOMAIN;
  const aor = `sip:${o.toUser ?? c.user}@${toHost}`;
  const contact = o.contact === undefined ? `<${c.contactUri}>` : o.contact;
  return (
    `REGISTER ${o.ruri ?? `sip:${toHost}`} SIP/2.0\r\n` +
    `Via: ${via};branch=z9hG4bK-${uniq()};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <${aor}>;tag=${c.callId}\r\n` +
    `To: <${aor}>\r\n` +
    `Call-ID: ${o.callId ?? c.callId}\r\n` +
    `CSeq: ${cseq} REGISTER\r\n` +
    (contact === null ? '' : `Contact: ${contact}\r\n`) +
    (o.expires === undefined ? '' : `Expires: ${o.expires}\r\n`) +
    (o.authorization ? `Authorization: ${o.authorization}\r\n` : '') +
    (o.extra ?? '') +
    `User-Agent: registrar-test\r\nContent-Length: 0\r\n\r\n`
  );
}

/** Send and wait for the final response with this CSeq. */
export async function exchange(c: Client, text: string, timeoutMs = 3000): Promise<string> {
  const cseq = /\r\nCSeq: (\d+) (\w+)/.exec(text)!;
  const callId = /\r\nCall-ID: (\S+)/.exec(text)![1];
  c.peer.send(text);
  return c.peer.next(
    (m) => m.startsWith('SIP/2.0 ') && statusOf(m) >= 200 && header(m, 'CSeq') === `${cseq[1]} ${cseq[2]}` && header(m, 'Call-ID') === callId,
    timeoutMs,
  );
}

// ---- digest, computed here independently ------------------------------------------------------

export interface Challenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm?: string;
  qop?: string;
  stale?: string;
}

export function parseChallenge(value: string): Challenge {
  const out: Record<string, string> = {};
  for (const m of value.replace(/^Digest\s+/i, '').matchAll(/([\w-]+)=(?:"([^"]*)"|([^\s,]+))/g)) out[m[1].toLowerCase()] = m[2] ?? m[3];
  return out as unknown as Challenge;
}

export function challenges(res: string, name = 'WWW-Authenticate'): Challenge[] {
  return headers(res, name).map(parseChallenge);
}

const H = (alg: string, s: string): string => createHash(alg.toUpperCase() === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');

export interface AuthOpts {
  user?: string;
  password?: string;
  method?: string;
  uri: string;
  nc?: number;
  cnonce?: string;
  /** send algorithm=...; false = omit the parameter (means MD5) */
  algorithm?: string | false;
  realm?: string;
}

/** RFC 7616 §3.4.1 response with qop=auth. */
export function authorization(ch: Challenge, o: AuthOpts): string {
  const user = o.user ?? 'alice';
  const password = o.password ?? PASSWORDS[user] ?? 'x';
  const alg = o.algorithm === false ? 'MD5' : (o.algorithm ?? ch.algorithm ?? 'MD5');
  const realm = o.realm ?? ch.realm;
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(6).toString('hex');
  const ha1 = H(alg, `${user}:${realm}:${password}`);
  const ha2 = H(alg, `${o.method ?? 'REGISTER'}:${o.uri}`);
  const response = H(alg, `${ha1}:${ch.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return (
    `Digest username="${user}", realm="${realm}", nonce="${ch.nonce}", uri="${o.uri}", response="${response}"` +
    (o.algorithm === false ? '' : `, algorithm=${alg}`) +
    `, qop=auth, nc=${nc}, cnonce="${cnonce}"` +
    (ch.opaque ? `, opaque="${ch.opaque}"` : '')
  );
}

/** REGISTER, take the 401's challenge for `algorithm`, REGISTER again with credentials. */
export async function register(
  c: Client,
  o: RegisterOpts & { algorithm?: 'MD5' | 'SHA-256'; password?: string; authUser?: string } = {},
): Promise<{ res: string; challenge: Challenge; authorization: string }> {
  const first = await exchange(c, registerText(c, o));
  if (statusOf(first) !== 401) throw new Error(`expected 401, got:\n${first}`);
  const alg = o.algorithm ?? 'MD5';
  const ch = challenges(first).find((x) => x.algorithm === alg);
  if (!ch) throw new Error(`no ${alg} challenge in:\n${first}`);
  const auth = authorization(ch, { user: o.authUser ?? c.user, password: o.password, uri: o.ruri ?? `sip:${o.toHost ?? DOMAIN}` });
  const res = await exchange(c, registerText(c, { ...o, authorization: auth }));
  return { res, challenge: ch, authorization: auth };
}

/** Contact values of a response, one per binding (the registrar may put them on one line). */
export function contacts(res: string): string[] {
  return headers(res, 'Contact').flatMap((line) => line.split(/,\s*(?=<|")/)).map((s) => s.trim());
}

export function expiresOf(contact: string): number | undefined {
  const m = /;expires=(\d+)/i.exec(contact.slice(contact.indexOf('>')));
  return m ? Number(m[1]) : undefined;
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
