/**
 * Robustness: peers sending junk to every kind of listener must never take the process down,
 * and the layer must keep serving well-behaved peers afterwards. (Vitest fails the run on any
 * uncaught exception or unhandled rejection, so "no crash" is asserted by the run itself.)
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { connect as netConnect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { setLogLevel } from '../../logging/logger';
import { TransportLayer, type Transport } from './index';
import { ByteSink, MessageCollector, delay, makeSelfSignedCert, sipRequest, waitFor } from './transport-test-support';
import { prng } from '../../../../test/harness/prng';


function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

let cert: ReturnType<typeof makeSelfSignedCert>;
let layer: TransportLayer;
let inbox: MessageCollector;
let byProto: Record<string, Transport>;

beforeAll(async () => {
  setLogLevel(process.env.GATEWAY_LOG_LEVEL ?? 'silent');
  cert = makeSelfSignedCert();
  layer = new TransportLayer({ maxMessageBytes: 8192 });
  inbox = new MessageCollector(layer);
  const tls = { keyFile: cert.keyFile, certFile: cert.certFile };
  const ts = await layer.listen([
    { protocol: 'udp', host: '127.0.0.1', port: 0 },
    { protocol: 'tcp', host: '127.0.0.1', port: 0 },
    { protocol: 'tls', host: '127.0.0.1', port: 0, tls },
    { protocol: 'ws', host: '127.0.0.1', port: 0 },
    { protocol: 'wss', host: '127.0.0.1', port: 0, tls },
  ]);
  byProto = Object.fromEntries(ts.map((t) => [t.protocol, t]));
});

afterAll(async () => {
  await layer.close();
  cert.cleanup();
});

/** Connect, write the chunks, then either wait for the server to close or hang up ourselves. */
async function spray(port: number, chunks: Buffer[]): Promise<void> {
  const sock: Socket = netConnect({ host: '127.0.0.1', port });
  sock.on('error', () => undefined);
  const sink = new ByteSink(sock);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  for (const c of chunks) {
    if (sock.destroyed) break;
    sock.write(c);
  }
  await Promise.race([sink.until((s) => s.closed, 2000).catch(() => undefined), delay(50)]);
  sock.destroy();
}

describe('hostile peers', () => {
  it('random bytes to tcp, tls, ws and wss ports', async () => {
    const rand = prng(0xc0ffee);
    for (const proto of ['tcp', 'tls', 'ws', 'wss']) {
      const port = byProto[proto].localPort;
      const sprays: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        const chunks = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => randomBytes(rand, 1 + Math.floor(rand() * 3000)));
        sprays.push(spray(port, chunks));
      }
      await Promise.all(sprays);
    }
    await waitFor(() => layer.stats().connections === 0, 3000, 'all hostile flows closed');
  });

  it('SIP-looking junk: endless headers, negative and huge lengths, half messages, half handshakes', async () => {
    const tcp = byProto.tcp.localPort;
    await spray(tcp, [Buffer.from('INVITE sip:x SIP/2.0\r\n' + 'X: y\r\n'.repeat(3000))]);
    await spray(tcp, [Buffer.from('INVITE sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n')]);
    await spray(tcp, [Buffer.from('INVITE sip:x SIP/2.0\r\nContent-Length: 18446744073709551617\r\n\r\n')]);
    await spray(tcp, [sipRequest('INVITE', { body: 'x'.repeat(500) }).subarray(0, 300)]);
    // A TLS ClientHello that stops half way, and an HTTP upgrade that stops half way.
    await spray(byProto.tls.localPort, [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])]);
    await spray(byProto.ws.localPort, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n')]);
    await spray(byProto.ws.localPort, [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bad\r\n\r\n'),
    ]);
    await waitFor(() => layer.stats().connections === 0, 3000, 'all junk flows closed');
    expect(inbox.messages).toHaveLength(0);
  });

  it('websocket clients sending binary garbage, invalid UTF-8 text, and garbage after the handshake', async () => {
    const rand = prng(42);
    const url = `ws://127.0.0.1:${byProto.ws.localPort}/`;
    const ws = new WebSocket(url, ['sip']);
    ws.on('error', () => undefined);
    await new Promise<void>((r) => ws.once('open', () => r()));
    for (let i = 0; i < 50; i++) ws.send(randomBytes(rand, 1 + Math.floor(rand() * 500)), { binary: true });
    await delay(50);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // A text frame that is not UTF-8 fails the connection (RFC 6455 §8.1), nothing else.
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    const sock = (ws as unknown as { _socket: Socket })._socket;
    sock.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28])); // masked text frame "\xc3\x28"
    expect(await closed).toBe(1007);
    // Raw garbage right after a valid handshake.
    const ws2 = new WebSocket(url, ['sip']);
    ws2.on('error', () => undefined);
    await new Promise<void>((r) => ws2.once('open', () => r()));
    (ws2 as unknown as { _socket: Socket })._socket.write(randomBytes(rand, 200));
    await new Promise<void>((r) => ws2.once('close', () => r()));
    await waitFor(() => layer.stats().connections === 0, 3000, 'ws flows closed');
  });

  it('still serves every transport afterwards', async () => {
    const before = inbox.messages.length;
    const peer = new TransportLayer({ connectTimeoutMs: 3000 });
    const tls = { keyFile: cert.keyFile, certFile: cert.certFile };
    await peer.listen([
      { protocol: 'udp', host: '127.0.0.1', port: 0 },
      { protocol: 'tcp', host: '127.0.0.1', port: 0 },
      { protocol: 'tls', host: '127.0.0.1', port: 0, tls },
      { protocol: 'ws', host: '127.0.0.1', port: 0 },
      { protocol: 'wss', host: '127.0.0.1', port: 0, tls },
    ]);
    try {
      for (const proto of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
        await peer.send(sipRequest('OPTIONS', { callId: `after-${proto}` }), { protocol: proto, address: '127.0.0.1', port: byProto[proto].localPort });
      }
      await inbox.waitForTotal(before + 5);
      expect(inbox.messages.slice(before).map((m) => m.protocol).sort()).toEqual(['tcp', 'tls', 'udp', 'ws', 'wss']);
    } finally {
      await peer.close();
    }
  });
});
