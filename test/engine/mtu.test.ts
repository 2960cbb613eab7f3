/**
 * RFC 3261 §18.1.1: a request within 200 bytes of the path MTU goes over a congestion-controlled
 * transport (TCP) when the target did not ask for a transport; smaller ones stay on UDP.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { SDP, connectApp, header, methodOf, respondTo, startEngine, waitFor, type RunningEngine } from './engine-fixture';

/** A SIP endpoint listening on one port number for both UDP and TCP; records each request. */
interface DualListener {
  port: number;
  got: Array<{ via: 'udp' | 'tcp'; msg: string; reply(text: string): void }>;
  /** Stop listening on TCP (connects to the port are then refused); UDP stays. */
  closeTcp(): Promise<void>;
  close(): Promise<void>;
}

async function dualListener(): Promise<DualListener> {
  const got: DualListener['got'] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((sock) => {
      sockets.add(sock);
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const cl = /\r\nContent-Length\s*:\s*(\d+)/i.exec(buf.slice(0, end));
          const total = end + 4 + (cl ? Number(cl[1]) : 0);
          if (buf.length < total) return;
          got.push({ via: 'tcp', msg: buf.slice(0, total), reply: (t) => sock.write(t) });
          buf = buf.slice(total);
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, '127.0.0.1', () => r(true));
    });
    if (!bound) {
      udp.close();
      await new Promise((r) => server.close(r));
      continue;
    }
    udp.on('message', (m, rinfo) => got.push({ via: 'udp', msg: m.toString('latin1'), reply: (t) => udp.send(Buffer.from(t, 'latin1'), rinfo.port, rinfo.address) }));
    let tcpOpen = true;
    const closeTcp = async () => {
      if (!tcpOpen) return;
      tcpOpen = false;
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => server.close(r));
    };
    return {
      port,
      got,
      closeTcp,
      close: async () => {
        udp.close();
        await closeTcp();
      },
    };
  }
  throw new Error('no port free for both UDP and TCP');
}

async function waitForRequest(l: DualListener, method: string): Promise<DualListener['got'][number]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const hit = l.got.find((g) => methodOf(g.msg) === method);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no ${method}; got ${l.got.map((g) => g.msg.split('\r\n')[0]).join(', ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An SDP of about `bytes` bytes (extra attribute lines). */
function bigSdp(bytes: number): string {
  let sdp = SDP;
  for (let i = 0; sdp.length < bytes; i++) sdp += `a=x-filler-${i}:${'0123456789abcdef'.repeat(3)}\r\n`;
  return sdp;
}

let running: RunningEngine;
let srf: Srf;
let target: DualListener;

beforeEach(async () => {
  running = await startEngine({
    contacts: [
      { protocol: 'udp', host: '127.0.0.1', port: 0 },
      { protocol: 'tcp', host: '127.0.0.1', port: 0 },
    ],
    mtu: 1300,
  });
  srf = await connectApp(running.engine);
  target = await dualListener();
});
afterEach(async () => {
  srf.disconnect();
  await target.close();
  await running.stop();
});

/** Send an INVITE with this body, answer it 486 where it arrived, return what arrived. */
async function inviteWith(body: string): Promise<{ via: 'udp' | 'tcp'; msg: string }> {
  const call = srf.createUAC(`sip:bob@127.0.0.1:${target.port}`, { localSdp: body }).then(() => 0, (e: { status?: number }) => e.status);
  const got = await waitForRequest(target, 'INVITE');
  got.reply(respondTo(got.msg, 486, 'Busy Here', { toTag: 'bob' }));
  expect(await call).toBe(486);
  const ack = await waitForRequest(target, 'ACK');
  expect(ack.via).toBe(got.via); // the non-2xx ACK follows the INVITE's transport
  return got;
}

describe('RFC 3261 §18.1.1 switch to TCP for large requests', () => {
  it('an INVITE larger than mtu - 200 bytes goes over TCP with a TCP Via', async () => {
    const sdp = bigSdp(1200);
    const got = await inviteWith(sdp);
    expect(Buffer.byteLength(got.msg)).toBeGreaterThan(1100);
    expect(got.via).toBe('tcp');
    expect(header(got.msg, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${running.port('tcp')};branch=z9hG4bK`));
    expect(got.msg.endsWith(sdp)).toBe(true);
    expect(target.got.filter((g) => g.via === 'udp')).toHaveLength(0);
  });

  it('a small INVITE to the same target stays on UDP', async () => {
    const got = await inviteWith(SDP);
    expect(Buffer.byteLength(got.msg)).toBeLessThan(1100);
    expect(got.via).toBe('udp');
    expect(header(got.msg, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${running.port('udp')};branch=z9hG4bK`));
    expect(target.got.filter((g) => g.via === 'tcp')).toHaveLength(0);
  });

  it('a large INVITE to a UDP-only target falls back to UDP when TCP is refused (as sofia-sip does)', async () => {
    // A port with only UDP behind it: the TCP side was released again (connect -> ECONNREFUSED).
    const udpOnly = await dualListener();
    await udpOnly.closeTcp();
    const sdp = bigSdp(1200);
    const call = srf.createUAC(`sip:bob@127.0.0.1:${udpOnly.port}`, { localSdp: sdp }).then(() => 0, (e: { status?: number }) => e.status);
    const got = await waitForRequest(udpOnly, 'INVITE');
    expect(got.via).toBe('udp');
    expect(header(got.msg, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${running.port('udp')};branch=z9hG4bK`));
    expect(got.msg.endsWith(sdp)).toBe(true);
    // Still a UDP client transaction: Timer A retransmits until a response arrives.
    await waitFor(() => udpOnly.got.filter((g) => methodOf(g.msg) === 'INVITE').length >= 2, 2000, 'Timer A retransmission');
    got.reply(respondTo(got.msg, 486, 'Busy Here', { toTag: 'bob' }));
    expect(await call).toBe(486);
    expect(header((await waitForRequest(udpOnly, 'ACK')).msg, 'Via')).toBe(header(got.msg, 'Via'));
    await udpOnly.close();
  });

  it('an explicit ;transport=udp is honoured even for a large request', async () => {
    const call = srf
      .createUAC(`sip:bob@127.0.0.1:${target.port};transport=udp`, { localSdp: bigSdp(1200) })
      .then(() => 0, (e: { status?: number }) => e.status);
    const got = await waitForRequest(target, 'INVITE');
    expect(got.via).toBe('udp');
    got.reply(respondTo(got.msg, 486, 'Busy Here', { toTag: 'bob' }));
    expect(await call).toBe(486);
  });
});
