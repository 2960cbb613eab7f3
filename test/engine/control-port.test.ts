/**
 * The control port spoken by hand (drachtio-protocol §1 - §6): `<N>#<payload>` framing, the
 * authenticate/route/ping replies, NO versus NOK errors, and the positional `sip` leader of a
 * delivered request, all read byte for byte from a raw TCP client.
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SECRET, SDP, request, startEngine, statusOf, udpPeer, waitFor, wsPeer, type RunningEngine } from './engine-fixture';

const TIME = /^\d{2}:\d{2}:\d{2}\.\d{6}$/;

/** A hand-written drachtio client: frames out, frames in, nothing else. */
class RawClient {
  readonly frames: string[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private cursor = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const hash = this.buf.indexOf(0x23);
        if (hash < 0) return;
        const len = Number(this.buf.toString('latin1', 0, hash));
        if (!/^\d+$/.test(this.buf.toString('latin1', 0, hash))) throw new Error(`bad frame prefix from engine: ${this.buf.toString('latin1', 0, 20)}`);
        if (this.buf.length < hash + 1 + len) return;
        this.frames.push(this.buf.toString('utf8', hash + 1, hash + 1 + len));
        this.buf = this.buf.subarray(hash + 1 + len);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => s.once('connect', () => r()).once('error', j));
    return new RawClient(s);
  }

  static frame(payload: string): Buffer {
    const b = Buffer.from(payload, 'utf8');
    return Buffer.concat([Buffer.from(`${b.length}#`), b]);
  }

  /** Send one command; returns its msgId. */
  send(leader: string, sip?: string): string {
    const msgId = randomUUID();
    this.socket.write(RawClient.frame(`${msgId}|${leader}${sip !== undefined ? `\r\n${sip}` : ''}`));
    return msgId;
  }

  /** Next frame (after those already consumed) matching pred. */
  async next(pred: (f: string) => boolean = () => true, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (; this.cursor < this.frames.length; this.cursor++) {
        if (pred(this.frames[this.cursor])) return this.frames[this.cursor++];
      }
      if (Date.now() > deadline) throw new Error(`no matching frame; got:\n${this.frames.join('\n---\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The `response` frame answering msgId, split into leader tokens and attached SIP. */
  async reply(msgId: string): Promise<{ tokens: string[]; sip: string }> {
    const f = await this.next((x) => x.split('|')[2] === msgId && x.split('|')[1] === 'response');
    return split(f);
  }

  async auth(): Promise<void> {
    const r = await this.reply(this.send(`authenticate|${SECRET}|`));
    expect(r.tokens[3]).toBe('OK');
  }

  close(): void {
    this.socket.destroy();
  }
}

function split(frame: string): { tokens: string[]; sip: string } {
  const i = frame.indexOf('\r\n');
  const leader = i < 0 ? frame : frame.slice(0, i);
  return { tokens: leader.split('|'), sip: i < 0 ? '' : frame.slice(i + 2) };
}

let running: RunningEngine;
let clients: RawClient[] = [];
beforeEach(async () => {
  running = await startEngine();
});
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await running.stop();
});
async function client(): Promise<RawClient> {
  const c = await RawClient.connect(running.engine.adminPort);
  clients.push(c);
  return c;
}

describe('control port, by hand', () => {
  it('authenticate OK carries hostports, a version >= v0.8.2 and local hostports', async () => {
    const c = await client();
    const msgId = c.send(`authenticate|${SECRET}|tag-a,tag-b`);
    const { tokens } = await c.reply(msgId);
    expect(tokens).toHaveLength(7);
    expect(tokens[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(tokens.slice(1, 4)).toEqual(['response', msgId, 'OK']);
    const expected = ['udp', 'tcp', 'ws'].map((p) => `${p}/127.0.0.1:${running.port(p as 'udp')}`).join(',');
    expect(tokens[4]).toBe(expected);
    const v = /^v(\d+)\.(\d+)\.(\d+)$/.exec(tokens[5]);
    expect(v).not.toBeNull();
    const [maj, min, pat] = v!.slice(1).map(Number);
    expect(maj * 1e6 + min * 1e3 + pat).toBeGreaterThanOrEqual(8002); // srf only pings servers >= v0.8.2
    expect(tokens[6]).toBe(expected); // no external IP: local hostports are the same
  });

  it('a wrong secret gets NO|incorrect secret and the connection is closed', async () => {
    const c = await client();
    const msgId = c.send('authenticate|not-the-secret|');
    const { tokens } = await c.reply(msgId);
    expect(tokens.slice(1)).toEqual(['response', msgId, 'NO', 'incorrect secret']);
    await waitFor(() => c.closed, 2000, 'socket closed');
  });

  it('route and ping are answered OK and OK|pong; an unknown type gets NO|Unknown message type and a close', async () => {
    const c = await client();
    await c.auth();
    const r = c.send('route|invite');
    expect((await c.reply(r)).tokens.slice(1)).toEqual(['response', r, 'OK']);
    await waitFor(() => running.engine.control.registry.pick('invite') !== undefined, 2000, 'route stored');
    const p = c.send('ping');
    expect((await c.reply(p)).tokens.slice(1)).toEqual(['response', p, 'OK', 'pong']);
    const u = c.send('frobnicate|x');
    expect((await c.reply(u)).tokens.slice(1)).toEqual(['response', u, 'NO', 'Unknown message type']);
    await waitFor(() => c.closed, 2000, 'socket closed');
  });

  it('a frame split into single bytes, and several frames in one write, are both understood', async () => {
    const c = await client();
    const authId = randomUUID();
    const bytes = RawClient.frame(`${authId}|authenticate|${SECRET}|`);
    for (const b of bytes) {
      c.socket.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    expect((await c.reply(authId)).tokens[3]).toBe('OK');

    const ids = [randomUUID(), randomUUID(), randomUUID()];
    c.socket.write(Buffer.concat([RawClient.frame(`${ids[0]}|route|options`), RawClient.frame(`${ids[1]}|ping`), RawClient.frame(`${ids[2]}|ping`)]));
    expect((await c.reply(ids[0])).tokens[3]).toBe('OK');
    expect((await c.reply(ids[1])).tokens.slice(3)).toEqual(['OK', 'pong']);
    expect((await c.reply(ids[2])).tokens.slice(3)).toEqual(['OK', 'pong']);
    // Answers come back in order, one frame each.
    const order = c.frames.slice(1).map((f) => f.split('|')[2]);
    expect(order).toEqual(ids);

    // N counts UTF-8 bytes, both ways: a msgId with multi-byte characters survives the trip.
    const wide = `ping-ü-€-${randomUUID()}`;
    c.socket.write(RawClient.frame(`${wide}|ping`));
    expect((await c.reply(wide)).tokens.slice(3)).toEqual(['OK', 'pong']);
  });

  it('a response command without txnId gets NO|transaction id missing and a close', async () => {
    const c = await client();
    await c.auth();
    const m = c.send('sip||', 'SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n');
    expect((await c.reply(m)).tokens.slice(3)).toEqual(['NO', 'transaction id missing']);
    await waitFor(() => c.closed, 2000, 'socket closed');
  });

  it('NOK reasons: unknown dialog, unknown CANCEL transaction, request to myself', async () => {
    const c = await client();
    await c.auth();
    const bye = c.send('sip||no-such-call;from-tag=abc', 'BYE sip:placeholder SIP/2.0\r\nContent-Length: 0\r\n\r\n');
    expect((await c.reply(bye)).tokens.slice(3)).toEqual(['NOK', 'Server error: unable to find dialog for dialog id provided']);
    const cancel = c.send('sip|no-such-txn|', 'CANCEL sip:bob@127.0.0.1:5999 SIP/2.0\r\nContent-Length: 0\r\n\r\n');
    expect((await c.reply(cancel)).tokens.slice(3)).toEqual(['NOK', 'unable to cancel unknown transaction id: no-such-txn']);
    for (const target of [`sip:127.0.0.1:${running.port('udp')}`, `sip:bob@127.0.0.1:${running.port('tcp')};transport=tcp`]) {
      const self = c.send('sip||', `OPTIONS ${target} SIP/2.0\r\nContent-Length: 0\r\n\r\n`);
      expect((await c.reply(self)).tokens.slice(3)).toEqual(['NOK', 'can not send request to myself']);
    }
    expect(c.closed).toBe(false); // NOK is not fatal
  });

  it('the loop check compares ports: a URI without one means 5060, which is not ours', async () => {
    const c = await client();
    await c.auth();
    const byName = c.send('sip||', `OPTIONS sip:bob@localhost:${running.port('udp')} SIP/2.0\r\nContent-Length: 0\r\n\r\n`);
    expect((await c.reply(byName)).tokens.slice(3)).toEqual(['NOK', 'can not send request to myself']);
    // The engine listens on ephemeral ports only, so sip:bob@127.0.0.1 (port 5060) is someone else.
    const other = c.send('sip||', 'OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n');
    const r = await c.reply(other);
    expect(r.tokens.slice(3, 5)).toEqual(['OK', 'application']);
    expect(r.sip.startsWith('OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n')).toBe(true);
  });

  it('a delivered UDP INVITE has the full positional leader; the response echo carries txnId and dialogId', async () => {
    const c = await client();
    await c.auth();
    await c.reply(c.send('route|invite'));
    const peer = await udpPeer(running.port('udp'));
    const invite = request('INVITE', { port: peer.port, body: SDP });
    peer.send(invite);
    const frame = await c.next((f) => f.split('|')[1] === 'sip');
    const leader = frame.slice(0, frame.indexOf('\r\n'));
    const { tokens, sip } = split(frame);
    expect(leader.endsWith('|')).toBe(true);
    expect(tokens.length).toBeGreaterThan(9); // srf ignores anything with 9 tokens or fewer
    expect(tokens).toHaveLength(13);
    expect(tokens[2]).toBe('network');
    expect(Number(tokens[3])).toBe(Buffer.byteLength(invite));
    expect(tokens.slice(4, 7)).toEqual(['udp', '127.0.0.1', String(peer.port)]);
    expect(tokens[7]).toMatch(TIME);
    expect(tokens[8]).not.toBe('');
    expect(tokens[9]).toBe(''); // no dialog until the app answers
    expect(tokens.slice(10, 13)).toEqual(['127.0.0.1', String(running.port('udp')), '']);
    expect(sip.startsWith('INVITE sip:service@127.0.0.1 SIP/2.0\r\n')).toBe(true);
    const via = /\r\nVia: ([^\r\n]+)/.exec(sip)![1];
    expect(via).toMatch(/received=127\.0\.0\.1/); // forced rport (§11.2)
    expect(via).toMatch(new RegExp(`rport=${peer.port}`));

    const txnId = tokens[8];
    const callId = /Call-ID: (\S+)/.exec(invite)![1];
    const fromTag = /From: [^\r\n]*;tag=(\S+)/.exec(invite)![1];
    const answer = c.send(`sip|${txnId}|`, `SIP/2.0 486 Busy Here\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`);
    const echo = await c.reply(answer);
    // OK|application|bytes|proto|addr|port|time|txnId|dialogId||Msg sent:|
    expect(echo.tokens.slice(3, 5)).toEqual(['OK', 'application']);
    expect(echo.tokens.slice(6, 9)).toEqual(['udp', '127.0.0.1', String(running.port('udp'))]);
    expect(echo.tokens[9]).toMatch(TIME);
    expect(echo.tokens.slice(10)).toEqual([txnId, `${callId};from-tag=${fromTag}`, '', 'Msg sent:', '']);
    expect(Number(echo.tokens[5])).toBe(Buffer.byteLength(echo.sip));
    const busy = await peer.next((m) => statusOf(m) === 486);
    expect(echo.sip).toBe(busy);
    peer.close();
  });

  it('a request that arrived over WebSocket is reported with protocol tcp (§11.5)', async () => {
    const c = await client();
    await c.auth();
    await c.reply(c.send('route|options'));
    const ws = await wsPeer(running.port('ws'));
    const opts = request('OPTIONS', { port: 0, proto: 'WS' }).replace(/127\.0\.0\.1:0/g, 'abc.invalid');
    ws.send(opts);
    const { tokens, sip } = split(await c.next((f) => f.split('|')[1] === 'sip'));
    expect(tokens[4]).toBe('tcp');
    expect(tokens[5]).toBe('127.0.0.1');
    expect(tokens.slice(10, 12)).toEqual(['127.0.0.1', String(running.port('ws'))]);
    expect(sip).toMatch(/\r\nVia: SIP\/2\.0\/WS abc\.invalid;/);
    const txnId = tokens[8];
    const answer = c.send(`sip|${txnId}|`, `SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n`);
    const echo = await c.reply(answer);
    expect(echo.tokens[6]).toBe('tcp');
    expect(echo.tokens[11]).toBe(''); // OPTIONS has no dialog
    expect(statusOf(await ws.next())).toBe(200);
    ws.close();
  });
});
