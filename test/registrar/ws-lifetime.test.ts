/**
 * A browser's binding lives as long as its WebSocket (plus a grace period), detected from SIP
 * alone: the registrar probes WS bindings with OPTIONS over srf.request; a closed socket makes
 * the engine fail the request at once. Also: RFC 5626 / RFC 7118 CRLF keep-alives end to end.
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Binding, UnbindReason } from '../../gateway/src/app/registrar';
import { methodOf, respondTo, udpPeer, waitFor, wsPeer } from '../engine/engine-fixture';
import { client, contacts, delay, register, startStack, type Stack } from './registrar-fixture';

const INTERVAL = 100;
const GRACE = 400;

let stack: Stack;
let unbound: Array<{ b: Binding; reason: UnbindReason; at: number }>;

async function start(options: { wsProbeIntervalMs?: number; wsProbeTimeoutMs?: number } = {}): Promise<void> {
  stack = await startStack({
    registrar: { wsGraceMs: GRACE },
    options: { wsProbeIntervalMs: INTERVAL, wsProbeTimeoutMs: 300, ...options },
  });
  unbound = [];
  stack.registrar.on('unbound', (b, reason) => unbound.push({ b, reason, at: Date.now() }));
}

afterEach(async () => {
  await stack.stop();
});

/** A WS browser stand-in that answers every OPTIONS with 200 (as SIP.js does) unless muted. */
async function browser(user = 'alice', answer = true) {
  const peer = await wsPeer(stack.running.port('ws'));
  const options: string[] = [];
  let muted = !answer;
  peer.ws.on('message', (d) => {
    const m = d.toString();
    if (methodOf(m) !== 'OPTIONS') return;
    options.push(m);
    if (!muted) peer.send(respondTo(m, 200, 'OK', { toTag: 'ws-ua' }));
  });
  const c = client(peer, 'WS', user);
  return { peer, c, options, mute: () => (muted = true) };
}

describe('WebSocket binding lifetime', () => {
  beforeEach(() => start());

  it('registers over WS with the .invalid Contact echoed exactly', async () => {
    const { peer, c } = await browser();
    const { res } = await register(c, { expires: 300 });
    expect(contacts(res)).toEqual([`<${c.contactUri}>;expires=300`]);
    expect(c.contactUri).toMatch(/^sip:alice-\w+@\w+\.invalid;transport=ws$/);
    expect(stack.registrar.lookup('alice')[0].source).toMatchObject({ transport: 'WS', protocol: 'tcp' });
    peer.close();
  });

  it('is kept while the browser answers OPTIONS', async () => {
    const { peer, c, options } = await browser();
    await register(c, { expires: 300 });
    await delay(INTERVAL * 4 + GRACE * 2);
    expect(options.length).toBeGreaterThanOrEqual(4);
    expect(options[0].startsWith(`OPTIONS ${c.contactUri} SIP/2.0\r\n`)).toBe(true);
    expect(stack.registrar.lookup('alice').map((b) => b.uri)).toEqual([c.contactUri]);
    expect(stack.registrar.stats().probes.failed).toBe(0);
    expect(unbound).toEqual([]);
    peer.close();
  });

  it('is removed once the socket has been closed for the grace period, not before', async () => {
    const { peer, c } = await browser();
    await register(c, { expires: 300 });
    await delay(INTERVAL * 2);
    const closedAt = Date.now();
    peer.close();
    await delay(GRACE / 2);
    expect(stack.registrar.lookup('alice')).toHaveLength(1); // within grace
    await waitFor(() => unbound.length > 0, INTERVAL + GRACE + 2000, 'binding removal');
    const elapsed = unbound[0].at - closedAt;
    expect(unbound[0]).toMatchObject({ reason: 'connection-lost', b: { uri: c.contactUri } });
    expect(elapsed).toBeGreaterThanOrEqual(GRACE);
    expect(elapsed).toBeLessThan(INTERVAL + GRACE + 1000);
    expect(stack.registrar.lookup('alice')).toEqual([]);
    expect(stack.registrar.stats().unbound['connection-lost']).toBe(1);
  });

  it('a connected browser that stops answering is removed too (probe timeout + grace)', async () => {
    const { peer, c, mute } = await browser();
    await register(c, { expires: 300 });
    mute();
    await waitFor(() => unbound.length > 0, INTERVAL + 300 + GRACE + 2000, 'removal of a silent binding');
    expect(unbound[0].reason).toBe('connection-lost');
    peer.close();
  });

  it('a browser that reconnects and re-registers within the grace period keeps its binding', async () => {
    const first = await browser();
    await register(first.c, { expires: 300 });
    const registeredAt = stack.registrar.lookup('alice')[0].registeredAt;
    first.peer.close();
    await delay(INTERVAL + 50); // the old socket is seen failing
    const second = await browser();
    // same UA (same Contact, Call-ID, CSeq sequence) on a new socket
    second.c.contactUri = first.c.contactUri;
    second.c.callId = first.c.callId;
    second.c.cseq = first.c.cseq;
    await register(second.c, { expires: 300 });
    await delay(GRACE * 2);
    expect(unbound).toEqual([]);
    const [b] = stack.registrar.lookup('alice');
    expect(b).toMatchObject({ uri: first.c.contactUri, registeredAt });
    expect(second.options.length).toBeGreaterThan(0); // probes now reach the new socket
    second.peer.close();
  });

  it('UDP bindings are not probed', async () => {
    const udp = await udpPeer(stack.running.port('udp'));
    try {
      await register(client(udp, 'UDP', 'bob'));
      await delay(INTERVAL * 4);
      expect(udp.received.some((m) => methodOf(m) === 'OPTIONS')).toBe(false);
      expect(stack.registrar.stats().probes.sent).toBe(0);
    } finally {
      udp.close();
    }
  });
});

describe('reportUnreachable()', () => {
  beforeEach(() => start({ wsProbeIntervalMs: 60_000 }));

  it('probes at once instead of waiting for the next interval', async () => {
    const { peer, c } = await browser();
    await register(c, { expires: 300 });
    peer.close();
    await delay(50);
    expect(stack.registrar.reportUnreachable(`sip:alice@gateway.test`)).toBe(1);
    await waitFor(() => unbound.length > 0, GRACE + 2000, 'removal after the reported failure');
    expect(unbound[0].reason).toBe('connection-lost');
  });
});

describe('CRLF keep-alives (RFC 5626 §4.4.1, RFC 7118)', () => {
  beforeEach(() => start());

  it('a CRLFCRLF ping on the WebSocket of a registered browser is answered with CRLF', async () => {
    const { peer, c } = await browser();
    await register(c);
    const pong = new Promise<string>((resolve) => peer.ws.on('message', (d) => d.toString() === '\r\n' && resolve('\r\n')));
    peer.ws.send('\r\n\r\n');
    expect(await Promise.race([pong, delay(2000).then(() => 'timeout')])).toBe('\r\n');
    // the binding is unaffected
    expect(stack.registrar.lookup('alice')).toHaveLength(1);
    peer.close();
  });

  it('a CRLFCRLF ping on TCP is answered with CRLF', async () => {
    const socket = net.connect(stack.running.port('tcp'), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const got = new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
    socket.write('\r\n\r\n');
    expect(await Promise.race([got, delay(2000).then(() => 'timeout')])).toBe('\r\n');
    socket.destroy();
  });
});
