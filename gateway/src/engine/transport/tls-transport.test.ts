import { describe, it, expect, afterEach, afterAll, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { setLogLevel } from '../../logging/logger';
import { TransportLayer, type Connection, type ListenSpec } from './index';
import { ByteSink, MessageCollector, delay, makeSelfSignedCert, sipRequest, sipResponse, waitFor } from './transport-test-support';

let cert: ReturnType<typeof makeSelfSignedCert>;
beforeAll(() => {
  setLogLevel(process.env.GATEWAY_LOG_LEVEL ?? 'silent');
  cert = makeSelfSignedCert();
});
afterAll(() => cert.cleanup());

const layers: TransportLayer[] = [];
const sockets: TLSSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(layers.splice(0).map((l) => l.close()));
});

function tlsSpec(): ListenSpec {
  return { protocol: 'tls', host: '127.0.0.1', port: 0, tls: { keyFile: cert.keyFile, certFile: cert.certFile } };
}

async function tlsLayer() {
  const layer = new TransportLayer({ connectTimeoutMs: 3000 });
  layers.push(layer);
  const inbox = new MessageCollector(layer);
  const [t] = await layer.listen([tlsSpec()]);
  return { layer, inbox, t };
}

function tlsClient(port: number): Promise<{ sock: TLSSocket; sink: ByteSink }> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(cert.certFile) }, () =>
      resolve({ sock, sink: new ByteSink(sock) }),
    );
    sockets.push(sock);
    sock.once('error', reject);
  });
}

describe('TLS transport', () => {
  it('accepts a TLS client that verifies our certificate and answers on the same flow', async () => {
    const { layer, inbox, t } = await tlsLayer();
    expect(t).toMatchObject({ protocol: 'tls', scheme: 'sips', family: 4 });
    const { sock, sink } = await tlsClient(t.localPort);
    expect(sock.authorized).toBe(true);
    const req = sipRequest('INVITE', { body: 'v=0\r\n' });
    sock.write(req.subarray(0, 50));
    await delay(10);
    sock.write(req.subarray(50));
    const [m] = await inbox.next();
    expect(m.data.equals(req)).toBe(true);
    expect(m.protocol).toBe('tls');
    const res = sipResponse();
    await layer.send(res, { protocol: 'tls', address: m.remoteAddress, port: m.remotePort, connection: m.connection });
    await sink.until((s) => s.data.length === res.length);
    expect(sink.data.equals(res)).toBe(true);
    sock.write('\r\n\r\n');
    await sink.until((s) => s.data.length === res.length + 2);
    expect(sink.data.subarray(res.length).toString()).toBe('\r\n');
  });

  it('connects out over TLS to another layer and reuses the flow', async () => {
    const server = await tlsLayer();
    const clientSide = await tlsLayer();
    const target = { protocol: 'tls' as const, address: '127.0.0.1', port: server.t.localPort };
    const r1 = await clientSide.layer.send(sipRequest('OPTIONS'), target);
    const r2 = await clientSide.layer.send(sipRequest('OPTIONS'), target);
    expect(r1.connection).toBe(r2.connection);
    expect(r1.connection).toMatchObject({ protocol: 'tls', inbound: false, transport: clientSide.t });
    const msgs = await server.inbox.next(2);
    expect(msgs[0].connection).toBe(msgs[1].connection);
    await server.layer.send(sipResponse(), { protocol: 'tls', address: msgs[0].remoteAddress, port: msgs[0].remotePort, connection: msgs[0].connection });
    const [answer] = await clientSide.inbox.next();
    expect(answer.connection).toBe(r1.connection);
  });

  it('survives a plain-TCP client speaking cleartext SIP to the TLS port', async () => {
    const { layer, inbox, t } = await tlsLayer();
    const closedIds: string[] = [];
    layer.on('connection-closed', (c: Connection) => closedIds.push(c.id));
    const raw = netConnect({ host: '127.0.0.1', port: t.localPort });
    raw.on('error', () => undefined);
    const sink = new ByteSink(raw);
    raw.write(sipRequest('OPTIONS'));
    await sink.until((s) => s.closed);
    expect(inbox.messages).toHaveLength(0);
    // Still serving real TLS clients afterwards.
    const { sock } = await tlsClient(t.localPort);
    sock.write(sipRequest('OPTIONS'));
    await inbox.next();
    await waitFor(() => layer.stats().connections === 1, 2000, 'one connection');
  });

  it('times out a handshake the peer never answers, and close() aborts pending connects', async () => {
    const silent = createServer((s) => s.on('error', () => undefined)); // accepts, never speaks TLS
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const layer = new TransportLayer({ connectTimeoutMs: 200 });
      layers.push(layer);
      await layer.listen([tlsSpec()]);
      const started = Date.now();
      await expect(layer.send(sipRequest('OPTIONS'), { protocol: 'tls', address: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ECONNECT' });
      expect(Date.now() - started).toBeLessThan(2000);

      const slow = new TransportLayer({ connectTimeoutMs: 60_000 });
      await slow.listen([tlsSpec()]);
      const pending = slow.send(sipRequest('OPTIONS'), { protocol: 'tls', address: '127.0.0.1', port });
      await delay(50);
      await slow.close();
      await expect(pending).rejects.toThrow(/transport layer closing/);
    } finally {
      silent.close();
    }
  });

  it('rejects listen() with a clear message when the key file is missing', async () => {
    const layer = new TransportLayer();
    layers.push(layer);
    await expect(
      layer.listen([{ protocol: 'tls', host: '127.0.0.1', port: 0, tls: { keyFile: '/nonexistent/k.pem', certFile: cert.certFile } }]),
    ).rejects.toThrow(/cannot read TLS key file \/nonexistent\/k\.pem/);
    await expect(layer.listen([{ protocol: 'wss', host: '127.0.0.1', port: 0 }])).rejects.toThrow(/needs tls\.keyFile/);
  });
});
