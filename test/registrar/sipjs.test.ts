/**
 * SIP.js 0.21 itself (the browser softphone's stack), running in Node over the `ws` package,
 * registers against engine + srf app + registrar. This is the proof that the 401 (two
 * WWW-Authenticate lines, SHA-256 first) and the 200's Contact are what SIP.js accepts: its
 * Registerer only reaches `Registered` when it finds its own Contact in the 200 with an expires
 * parameter (sip.js lib/api/registerer.js, RFC 3261 §10.2.4).
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registerer, RegistererState, UserAgent } from 'sip.js';
import type { Binding, UnbindReason } from '../../gateway/src/app/registrar';
import { waitFor } from '../engine/engine-fixture';
import { DOMAIN, PASSWORDS, delay, startStack, type Stack } from './registrar-fixture';

// SIP.js's Web transport uses the global WebSocket (addEventListener API, which `ws` provides).
(globalThis as unknown as { WebSocket: unknown }).WebSocket = WebSocket;

const INTERVAL = 100;
const GRACE = 300;
let stack: Stack;
const unbound: Array<{ uri: string; reason: UnbindReason }> = [];

beforeAll(async () => {
  stack = await startStack({ registrar: { wsGraceMs: GRACE }, options: { wsProbeIntervalMs: INTERVAL } });
  stack.registrar.on('unbound', (b: Binding, reason) => unbound.push({ uri: b.uri, reason }));
});
afterAll(async () => {
  await stack.stop();
});

function userAgent(user: string, password: string): UserAgent {
  return new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@${DOMAIN}`),
    transportOptions: { server: `ws://127.0.0.1:${stack.running.port('ws')}` },
    authorizationUsername: user,
    authorizationPassword: password,
    logBuiltinEnabled: false,
    logLevel: 'error',
  });
}

async function registerWith(ua: UserAgent): Promise<{ registerer: Registerer; states: string[]; rejected: number[] }> {
  await ua.start();
  const registerer = new Registerer(ua, { expires: 300 });
  const states: string[] = [];
  const rejected: number[] = [];
  registerer.stateChange.addListener((s) => states.push(s));
  await registerer.register({ requestDelegate: { onReject: (r) => rejected.push(r.message.statusCode ?? 0) } });
  return { registerer, states, rejected };
}

describe('SIP.js 0.21 against the registrar', () => {
  it('reaches Registered; the binding is its own WS contact; OPTIONS probes keep it', async () => {
    const ua = userAgent('alice', PASSWORDS.alice);
    const { registerer, states } = await registerWith(ua);
    await waitFor(() => registerer.state === RegistererState.Registered, 5000, 'SIP.js Registered');
    expect(states).toEqual([RegistererState.Registered]);

    const own = ua.contact.uri.toString();
    const [b] = stack.registrar.lookup('alice');
    expect(b).toMatchObject({ uri: own, expires: 300, source: { transport: 'WS' } });
    expect(own).toMatch(/\.invalid;transport=ws$/);
    // SIP.js's view of the 200: our echo of its Contact, with expires
    expect(registerer.contacts).toEqual([`<${own}>;expires=300`]);

    // SIP.js answers the registrar's OPTIONS (RFC 3261 §11.2), so the binding stays.
    const sent = stack.registrar.stats().probes.sent;
    await delay(INTERVAL * 4 + GRACE);
    expect(stack.registrar.stats().probes.sent).toBeGreaterThan(sent + 2);
    expect(stack.registrar.stats().probes.failed).toBe(0);
    expect(stack.registrar.lookup('alice')).toHaveLength(1);
    expect(registerer.state).toBe(RegistererState.Registered);

    // Un-REGISTER: SIP.js sends expires=0, the binding goes, SIP.js reports Unregistered.
    await registerer.unregister();
    await waitFor(() => registerer.state === RegistererState.Unregistered, 5000, 'SIP.js Unregistered');
    expect(stack.registrar.lookup('alice')).toEqual([]);
    expect(unbound.at(-1)).toEqual({ uri: own, reason: 'unregistered' });
    await ua.stop();
  });

  it('a wrong password is refused with 403 and SIP.js stays unregistered', async () => {
    const ua = userAgent('bob', 'not-the-password');
    const { registerer, rejected } = await registerWith(ua);
    await waitFor(() => rejected.length > 0, 5000, 'rejection');
    expect(rejected).toEqual([403]);
    expect(registerer.state).toBe(RegistererState.Unregistered);
    expect(stack.registrar.lookup('bob')).toEqual([]);
    await ua.stop();
  });

  it('when the browser\'s socket goes away, its binding is removed after the grace period', async () => {
    const ua = userAgent('bob', PASSWORDS.bob);
    const { registerer } = await registerWith(ua);
    await waitFor(() => registerer.state === RegistererState.Registered, 5000, 'SIP.js Registered');
    const own = ua.contact.uri.toString();
    expect(stack.registrar.lookup('bob').map((x) => x.uri)).toEqual([own]);
    const before = unbound.length;
    await ua.transport.disconnect();
    await waitFor(() => unbound.length > before, INTERVAL + GRACE + 3000, 'removal of the dead browser');
    expect(unbound.at(-1)).toEqual({ uri: own, reason: 'connection-lost' });
    expect(stack.registrar.lookup('bob')).toEqual([]);
    await ua.stop();
  });
});
