/**
 * RFC 3261 §10.3 binding management over the wire: expires (default, 423, clamping), several
 * contacts per user, un-REGISTER of one and of "*", queries, expiry, CSeq ordering, domains,
 * exact Contact echo, RFC 5626 instance replacement, UDP/TCP/TLS desk phones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSelfSignedCert } from '../../gateway/src/engine/transport/transport-test-support';
import type { Binding, UnbindReason } from '../../gateway/src/app/registrar';
import { header, statusOf, tcpPeer, udpPeer, waitFor, type RawPeer } from '../engine/engine-fixture';
import { client, contacts, delay, exchange, expiresOf, register, registerText, startStack, tlsPeer, type Client, type Stack } from './registrar-fixture';

let stack: Stack;
let udp: RawPeer;
const events: Array<{ type: 'bound' | 'unbound'; uri: string; detail: string }> = [];

beforeAll(async () => {
  stack = await startStack();
  udp = await udpPeer(stack.running.port('udp'));
  stack.registrar.on('bound', (b: Binding, info) => events.push({ type: 'bound', uri: b.uri, detail: info.refreshed ? 'refreshed' : 'new' }));
  stack.registrar.on('unbound', (b: Binding, reason: UnbindReason) => events.push({ type: 'unbound', uri: b.uri, detail: reason }));
});
afterAll(async () => {
  udp.close();
  await stack.stop();
});

/** Remove every binding of a user with "Contact: *" (fresh Call-ID). */
async function clear(user: string): Promise<void> {
  const { res } = await register(client(udp, 'UDP', user), { contact: '*', expires: 0 });
  expect(statusOf(res)).toBe(200);
  expect(stack.registrar.lookup(user)).toEqual([]);
}

describe('expiration interval (RFC 3261 §10.3 step 6)', () => {
  it('no expires anywhere -> the configured default', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c);
    expect(contacts(res)).toContain(`<${c.contactUri}>;expires=600`);
  });

  it('below the minimum -> 423 with Min-Expires; retrying with it succeeds', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { expires: 30 });
    expect(statusOf(res)).toBe(423);
    expect(header(res, 'Min-Expires')).toBe('60');
    expect(stack.registrar.lookup('alice').some((b) => b.uri === c.contactUri)).toBe(false);
    const retry = await register(c, { expires: 60 });
    expect(contacts(retry.res)).toContain(`<${c.contactUri}>;expires=60`);
  });

  it('above the maximum -> clamped to it', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { expires: 86400 });
    expect(statusOf(res)).toBe(200);
    expect(contacts(res)).toContain(`<${c.contactUri}>;expires=3600`);
  });

  it('the contact expires parameter wins over the Expires header', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { contact: `<${c.contactUri}>;expires=120`, expires: 900 });
    expect(contacts(res)).toContain(`<${c.contactUri}>;expires=120`);
  });

  it('bad input gets 400, not a crash: Expires, contact expires, q, Contact syntax', async () => {
    const c = client(udp, 'UDP', 'alice');
    for (const o of [
      { expires: 'soon' },
      { contact: `<${c.contactUri}>;expires=-5` },
      { contact: `<${c.contactUri}>;q=2` },
      { contact: `<${c.contactUri};transport=udp` },
      { contact: `"unterminated <${c.contactUri}>` },
    ]) {
      // The engine refuses some broken Contacts itself, statelessly (drachtio-protocol §10.1
      // step 6); the rest reach the registrar after authentication. Either way: 400.
      const first = await exchange(c, registerText(c, o));
      const res = statusOf(first) === 401 ? (await register(c, o)).res : first;
      expect(statusOf(res), JSON.stringify(o)).toBe(400);
    }
  });
});

describe('several contacts per user', () => {
  it('two devices: each 200 lists all current bindings; lookup() is newest first', async () => {
    await clear('bob');
    const phone = client(udp, 'UDP', 'bob');
    const tcp = await tcpPeer(stack.running.port('tcp'));
    const desk = client(tcp, 'TCP', 'bob');
    try {
      expect(contacts((await register(phone, { expires: 300 })).res)).toEqual([`<${phone.contactUri}>;expires=300`]);
      const { res } = await register(desk, { expires: 600 });
      expect(contacts(res).sort()).toEqual([`<${desk.contactUri}>;expires=600`, `<${phone.contactUri}>;expires=300`].sort());
      expect(stack.registrar.lookup('bob').map((b) => b.uri)).toEqual([desk.contactUri, phone.contactUri]);
      expect(stack.registrar.lookup('bob')[0].source).toMatchObject({ transport: 'TCP', protocol: 'tcp', port: tcp.port });
    } finally {
      tcp.close();
    }
  });

  it('one REGISTER can carry several contacts, comma-joined or on separate lines', async () => {
    await clear('bob');
    const c = client(udp, 'UDP', 'bob');
    const a = `sip:bob-a@127.0.0.1:${udp.port}`;
    const b = `sip:bob-b@127.0.0.1:${udp.port}`;
    const d = `sip:bob-d@127.0.0.1:${udp.port}`;
    const { res } = await register(c, { contact: `<${a}>;expires=100, <${b}>;expires=200`, extra: `Contact: <${d}>\r\n`, expires: 300 });
    expect(contacts(res).sort()).toEqual([`<${a}>;expires=100`, `<${b}>;expires=200`, `<${d}>;expires=300`].sort());
  });

  it('un-REGISTER of one contact keeps the others; "*" with Expires: 0 removes all', async () => {
    await clear('bob');
    const one = client(udp, 'UDP', 'bob');
    const two = client(udp, 'UDP', 'bob');
    await register(one);
    await register(two);
    const before = events.length;
    const { res } = await register(one, { expires: 0 });
    expect(statusOf(res)).toBe(200);
    expect(contacts(res)).toEqual([`<${two.contactUri}>;expires=600`]);
    expect(events.slice(before)).toEqual([{ type: 'unbound', uri: one.contactUri, detail: 'unregistered' }]);

    const star = await register(client(udp, 'UDP', 'bob'), { contact: '*', expires: 0 });
    expect(statusOf(star.res)).toBe(200);
    expect(header(star.res, 'Contact')).toBeUndefined();
    expect(stack.registrar.lookup('bob')).toEqual([]);
  });

  it('"*" with a non-zero expiration -> 400', async () => {
    const c = client(udp, 'UDP', 'bob');
    const res = await exchange(c, registerText(c, { contact: '*', expires: 60 }));
    expect(statusOf(res)).toBe(400);
  });

  it('a REGISTER without Contact is a query: 200 with the bindings, nothing changes', async () => {
    await clear('bob');
    const c = client(udp, 'UDP', 'bob');
    await register(c, { expires: 300 });
    const { res } = await register(client(udp, 'UDP', 'bob'), { contact: null });
    expect(statusOf(res)).toBe(200);
    expect(contacts(res)).toHaveLength(1);
    expect(contacts(res)[0]).toMatch(new RegExp(`^<${c.contactUri}>;expires=(300|299)$`));
    expect(stack.registrar.lookup('bob')).toHaveLength(1);
  });

  it('echoes the registered Contact exactly: display name, URI params inside <>, header params', async () => {
    const c = client(udp, 'UDP', 'alice');
    const value = `"Alice Desk" <${c.contactUri};transport=udp;line=7>;+sip.instance="<urn:uuid:00000000-0000-4000-8000-00000000000a>";reg-id=1;q=0.5`;
    const { res } = await register(c, { contact: value, expires: 300 });
    expect(contacts(res)).toContain(`${value};expires=300`);
    // addr-spec form: its ;params are header params (RFC 3261 §20.10), written back name-addr
    const bare = `sip:alice-bare@127.0.0.1:${udp.port}`;
    const r2 = await register(client(udp, 'UDP', 'alice'), { contact: `${bare};expires=90` });
    expect(contacts(r2.res)).toContain(`<${bare}>;expires=90`);
  });

  it('same +sip.instance and reg-id with a new URI replaces the binding (RFC 5626 §6)', async () => {
    await clear('alice');
    const inst = ';+sip.instance="<urn:uuid:11111111-2222-4333-8444-555555555555>";reg-id=1';
    const first = client(udp, 'UDP', 'alice');
    const second = client(udp, 'UDP', 'alice');
    await register(first, { contact: `<${first.contactUri}>${inst}` });
    const { res } = await register(second, { contact: `<${second.contactUri}>${inst}` });
    expect(contacts(res)).toEqual([`<${second.contactUri}>${inst};expires=600`]);
    expect(stack.registrar.lookup('alice').map((b) => ({ uri: b.uri, instanceId: b.instanceId, regId: b.regId }))).toEqual([
      { uri: second.contactUri, instanceId: 'urn:uuid:11111111-2222-4333-8444-555555555555', regId: 1 },
    ]);
  });
});

describe('ordering (RFC 3261 §10.3 step 7)', () => {
  it('same Call-ID with a CSeq not above the stored one fails and changes nothing', async () => {
    const c: Client = client(udp, 'UDP', 'alice');
    await register(c, { expires: 300 }); // CSeq 1 (401) and 2 (200)
    const stored = stack.registrar.lookup('alice').find((b) => b.uri === c.contactUri)!;
    expect(stored.cseq).toBe(2);
    const { res } = await register(c, { cseq: 1, expires: 900 });
    expect(statusOf(res)).toBe(500);
    expect(stack.registrar.lookup('alice').find((b) => b.uri === c.contactUri)).toMatchObject({ expires: 300, cseq: 2 });
    // a different Call-ID (the UA restarted) may write whatever its CSeq
    const restarted = { ...c, callId: `${c.callId}-new`, cseq: 0 };
    expect(statusOf((await register(restarted, { expires: 900 })).res)).toBe(200);
    expect(stack.registrar.lookup('alice').find((b) => b.uri === c.contactUri)).toMatchObject({ expires: 900 });
  });
});

describe('address-of-record and domain (RFC 3261 §10.3 steps 1, 5)', () => {
  it('an AOR at the address the request reached us at is ours', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { toHost: '127.0.0.1', ruri: 'sip:127.0.0.1' });
    expect(statusOf(res)).toBe(200);
  });

  it('an AOR in a foreign domain -> 404', async () => {
    const c = client(udp, 'UDP', 'alice');
    const { res } = await register(c, { toHost: 'elsewhere.example', ruri: 'sip:gateway.test' });
    expect(statusOf(res)).toBe(404);
  });
});

describe('expiry', () => {
  it('a binding disappears when its lifetime runs out (unbound "expired")', async () => {
    const s = await startStack({ registrar: { minExpires: 1, defaultExpires: 60 } });
    const peer = await udpPeer(s.running.port('udp'));
    const gone: string[] = [];
    s.registrar.on('unbound', (b, reason) => gone.push(`${b.uri} ${reason}`));
    try {
      const c = client(peer, 'UDP', 'alice');
      expect(contacts((await register(c, { expires: 1 })).res)).toEqual([`<${c.contactUri}>;expires=1`]);
      expect(s.registrar.lookup('alice')).toHaveLength(1);
      await waitFor(() => gone.length > 0, 3000, 'expiry');
      expect(gone).toEqual([`${c.contactUri} expired`]);
      expect(s.registrar.lookup('alice')).toEqual([]);
      const { res } = await register(client(peer, 'UDP', 'alice'), { contact: null });
      expect(header(res, 'Contact')).toBeUndefined();
      expect(s.registrar.stats().unbound.expired).toBe(1);
    } finally {
      peer.close();
      await s.stop();
    }
  });
});

describe('limits and transports', () => {
  it('more contacts than allowed -> 403, the earlier ones stay', async () => {
    const s = await startStack({ options: { maxContactsPerUser: 2 } });
    const peer = await udpPeer(s.running.port('udp'));
    try {
      for (let i = 0; i < 2; i++) expect(statusOf((await register(client(peer, 'UDP', 'bob'))).res)).toBe(200);
      expect(statusOf((await register(client(peer, 'UDP', 'bob'))).res)).toBe(403);
      expect(s.registrar.lookup('bob')).toHaveLength(2);
    } finally {
      peer.close();
      await s.stop();
    }
  });

  it('a desk phone over TLS registers (Via TLS, protocol tls)', async () => {
    const cert = makeSelfSignedCert();
    const s = await startStack({
      engine: {
        contacts: [
          { protocol: 'udp', host: '127.0.0.1', port: 0 },
          { protocol: 'tls', host: '127.0.0.1', port: 0, tls: { keyFile: cert.keyFile, certFile: cert.certFile } },
        ],
      },
    });
    const peer = await tlsPeer(s.running.port('tls'));
    try {
      const c = client(peer, 'TLS', 'alice');
      const { res } = await register(c, { algorithm: 'SHA-256', expires: 300 });
      expect(statusOf(res)).toBe(200);
      expect(contacts(res)).toEqual([`<${c.contactUri}>;expires=300`]);
      expect(expiresOf(contacts(res)[0])).toBe(300);
      expect(s.registrar.lookup('alice')[0].source).toMatchObject({ transport: 'TLS', protocol: 'tls' });
    } finally {
      peer.close();
      await s.stop();
      cert.cleanup();
    }
  });

  it('refreshing keeps registeredAt and emits bound(refreshed)', async () => {
    const c = client(udp, 'UDP', 'alice');
    await register(c);
    const first = stack.registrar.lookup('alice').find((b) => b.uri === c.contactUri)!;
    await delay(20);
    const before = events.length;
    await register(c, { expires: 120 });
    const again = stack.registrar.lookup('alice').find((b) => b.uri === c.contactUri)!;
    expect(again.registeredAt).toBe(first.registeredAt);
    expect(again.receivedAt).toBeGreaterThan(first.receivedAt);
    expect(events.slice(before)).toEqual([{ type: 'bound', uri: c.contactUri, detail: 'refreshed' }]);
  });
});
