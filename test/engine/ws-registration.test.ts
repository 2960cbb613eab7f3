/**
 * WebSocket registration reuse (drachtio-protocol §11.4, RFC 7118 §5): a browser registers a
 * `.invalid` Contact over WS; new requests the app sends to that user must reuse the very
 * WebSocket the REGISTER came in on, and stop doing so once it closes or is unregistered.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import {
  SDP, connectApp, header, methodOf, respondTo, routed, startEngine, statusOf, waitFor, wsPeer, type RawPeer, type RunningEngine,
} from './engine-fixture';

let running: RunningEngine;
let srf: Srf;
let registers: Array<{ expires: string }>;

beforeEach(async () => {
  running = await startEngine();
  srf = await connectApp(running.engine);
  registers = [];
  // A registrar: 200 echoing the binding and its lifetime.
  srf.use('register', (req, res) => {
    registers.push({ expires: req.get('Expires') });
    res.send(200, { headers: { Contact: req.get('Contact'), Expires: req.get('Expires') } });
  });
  await routed(running.engine, 'register');
});
afterEach(async () => {
  srf.disconnect();
  await running.stop();
});

let n = 0;
function register(expires: number, cseq = 1, callId = `reg-${++n}-${Date.now()}`): string {
  return (
    `REGISTER sip:127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK-reg-${++n}-${Date.now()}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=reg-${callId}\r\nTo: <sip:alice@127.0.0.1>\r\n` +
    `Call-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\n` +
    `Contact: <sip:alice@abc.invalid;transport=ws>\r\nExpires: ${expires}\r\nContent-Length: 0\r\n\r\n`
  );
}

async function registeredPeer(): Promise<RawPeer> {
  const ws = await wsPeer(running.port('ws'));
  ws.send(register(300));
  const ok = await ws.next((m) => /CSeq: 1 REGISTER/.test(m));
  expect(statusOf(ok)).toBe(200);
  expect(header(ok, 'Contact')).toBe('<sip:alice@abc.invalid;transport=ws>');
  expect(header(ok, 'Expires')).toBe('300');
  await waitFor(() => running.engine.registrations.size === 1, 2000, 'registration cached');
  return ws;
}

/** srf.request with the first final response, or the engine's NOK as an error. */
function options(uri: string): Promise<number> {
  return new Promise((resolve, reject) => {
    type Sent = { on(ev: 'response', fn: (res: { status: number }) => void): void };
    const request = srf.request as unknown as (uri: string, opts: object, cb: (err: Error | undefined, req: Sent) => void) => void;
    request.call(srf, uri, { method: 'OPTIONS' }, (err, req) => {
      if (err) return reject(err);
      req.on('response', (res) => res.status >= 200 && resolve(res.status));
    });
  });
}

/** Settles within ms or fails the test: "does not hang". */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, j) => setTimeout(() => j(new Error(`${what} still pending after ${ms} ms`)), ms))]);
}

describe('WebSocket registration reuse', () => {
  it('OPTIONS and INVITE to the registered user go out on the registering WebSocket', async () => {
    const ws = await registeredPeer();
    const wsPort = running.port('ws');

    const optionsDone = options('sip:alice@abc.invalid');
    const opt = await ws.next((m) => methodOf(m) === 'OPTIONS');
    expect(opt.startsWith('OPTIONS sip:alice@abc.invalid SIP/2.0\r\n')).toBe(true);
    expect(header(opt, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/WS 127\\.0\\.0\\.1:${wsPort};branch=z9hG4bK`));
    ws.send(respondTo(opt, 200, 'OK', { toTag: 'opt' }));
    expect(await optionsDone).toBe(200);

    const calling = srf.createUAC('sip:alice@abc.invalid', { localSdp: SDP });
    const invite = await ws.next((m) => methodOf(m) === 'INVITE');
    expect(invite.startsWith('INVITE sip:alice@abc.invalid SIP/2.0\r\n')).toBe(true);
    expect(header(invite, 'Via')).toMatch(/^SIP\/2\.0\/WS /);
    // §4.3 WS exception: the default Contact names the WS listener.
    expect(header(invite, 'Contact')).toBe(`<sip:127.0.0.1:${wsPort};transport=ws>`);
    ws.send(respondTo(invite, 180, 'Ringing', { toTag: 'alice' }));
    ws.send(respondTo(invite, 200, 'OK', { toTag: 'alice', contact: '<sip:alice@abc.invalid;transport=ws>', body: SDP }));
    const dlg = await calling;
    const ack = await ws.next((m) => methodOf(m) === 'ACK');
    expect(header(ack, 'To')).toMatch(/;tag=alice/);

    const destroyed = dlg.destroy();
    const bye = await ws.next((m) => methodOf(m) === 'BYE');
    expect(bye.startsWith('BYE sip:alice@abc.invalid;transport=ws SIP/2.0\r\n')).toBe(true);
    ws.send(respondTo(bye, 200, 'OK'));
    await destroyed;
    ws.close();
  });

  it('after the WebSocket closes, requests to the user fail promptly instead of hanging', async () => {
    const ws = await registeredPeer();
    ws.close();
    await waitFor(() => running.engine.registrations.size === 0, 3000, 'registration dropped with its connection');

    // RFC 6761 §6.4: a .invalid name is refused at once, never waited on in DNS.
    const err = await within(srf.createUAC('sip:alice@abc.invalid', { localSdp: SDP }).then(() => undefined, (e: Error) => e), 2000, 'INVITE');
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/cannot resolve abc\.invalid/);
    const optErr = await within(options('sip:alice@abc.invalid').then((s) => s, (e: Error) => e), 2000, 'OPTIONS');
    expect(optErr).toBeInstanceOf(Error);
    expect(running.engine.outgoing.size).toBe(0);
  });

  it('an un-REGISTER (Expires: 0) removes the cached connection', async () => {
    const ws = await registeredPeer();
    const callId = /Call-ID: (\S+)/.exec(ws.received.find((m) => /REGISTER/.test(m))!)![1];
    ws.send(register(0, 2, callId));
    expect(statusOf(await ws.next((m) => /CSeq: 2 REGISTER/.test(m)))).toBe(200);
    await waitFor(() => running.engine.registrations.size === 0, 2000, 'registration removed');
    expect(registers.map((r) => r.expires)).toEqual(['300', '0']);

    const result = await within(options('sip:alice@abc.invalid').then((s) => s, (e: Error) => e), 2000, 'OPTIONS');
    expect(result).toBeInstanceOf(Error);
    // The socket is still open, but it is no longer used for the user.
    expect(ws.received.some((m) => methodOf(m) === 'OPTIONS')).toBe(false);
    ws.close();
  });
});
