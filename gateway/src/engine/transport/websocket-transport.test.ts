import { describe, it, expect, afterEach, afterAll, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { setLogLevel } from '../../logging/logger';
import { TransportLayer, type Connection, type ListenSpec, type Transport } from './index';
import { ByteSink, MessageCollector, delay, makeSelfSignedCert, sipRequest, sipResponse, waitFor } from './transport-test-support';

let cert: ReturnType<typeof makeSelfSignedCert>;
beforeAll(() => {
  setLogLevel(process.env.GATEWAY_LOG_LEVEL ?? 'silent');
  cert = makeSelfSignedCert();
});
afterAll(() => cert.cleanup());

const layers: TransportLayer[] = [];
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(layers.splice(0).map((l) => l.close()));
});

async function wsLayer(spec: Partial<ListenSpec> = {}, opts?: ConstructorParameters<typeof TransportLayer>[0]) {
  const layer = new TransportLayer(opts);
  layers.push(layer);
  const inbox = new MessageCollector(layer);
  const closed: Connection[] = [];
  layer.on('connection-closed', (c: Connection) => closed.push(c));
  const full: ListenSpec = { protocol: 'ws', host: '127.0.0.1', port: 0, ...spec };
  if (full.protocol === 'wss') full.tls = { keyFile: cert.keyFile, certFile: cert.certFile };
  const [t] = await layer.listen([full]);
  return { layer, inbox, t, closed };
}

function urlOf(t: Transport, path = '/'): string {
  const host = t.family === 6 ? `[${t.localAddress}]` : t.localAddress;
  return `${t.protocol}://${host}:${t.localPort}${path}`;
}

/** A ws client; resolves once open, with every frame it receives. */
function wsClient(url: string, protocols?: string[], opts: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; frames: Array<{ data: Buffer; binary: boolean }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts);
    clients.push(ws);
    const frames: Array<{ data: Buffer; binary: boolean }> = [];
    ws.on('message', (data: Buffer, binary: boolean) => frames.push({ data, binary }));
    ws.once('open', () => resolve({ ws, frames }));
    ws.once('error', reject);
  });
}

function httpStatus(t: Transport, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: t.localAddress, port: t.localPort, path: '/', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('WebSocket transport (RFC 7118)', () => {
  it('negotiates the sip subprotocol and round-trips messages as frames', async () => {
    const { layer, inbox, t } = await wsLayer();
    const { ws, frames } = await wsClient(urlOf(t), ['sip']);
    expect(ws.protocol).toBe('sip');
    const req = sipRequest('REGISTER');
    ws.send(req.toString());
    const [m] = await inbox.next();
    expect(m.data.equals(req)).toBe(true);
    expect(m.protocol).toBe('ws');
    const conn = m.connection as Connection;
    expect(conn).toMatchObject({ protocol: 'ws', inbound: true, remoteAddress: '127.0.0.1', localPort: t.localPort });
    expect(layer.findConnection('ws', '127.0.0.1', conn.remotePort)).toBe(conn);
    const res = sipResponse();
    await layer.send(res, { protocol: 'ws', address: conn.remoteAddress, port: conn.remotePort, connection: conn });
    await waitFor(() => frames.length === 1);
    expect(frames[0].binary).toBe(false);
    expect(frames[0].data.equals(res)).toBe(true);
    // Binary frames carrying SIP are accepted too (RFC 7118 §5).
    const bin = sipRequest('MESSAGE', { body: 'hi' });
    ws.send(bin, { binary: true });
    const [m2] = await inbox.next();
    expect(m2.data.equals(bin)).toBe(true);
  });

  it('selects sip among several offered; accepts a client offering none; refuses one without sip', async () => {
    const { t } = await wsLayer();
    const several = await wsClient(urlOf(t), ['foo', 'sip']);
    expect(several.ws.protocol).toBe('sip');
    const none = await wsClient(urlOf(t));
    expect(none.ws.protocol).toBe('');
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(urlOf(t), ['xmpp']);
      clients.push(ws);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(refused).toBe(400);
  });

  it('answers CRLF and CRLFCRLF keepalive frames with one CRLF, and ws pings with pongs', async () => {
    const { inbox, t } = await wsLayer();
    const { ws, frames } = await wsClient(urlOf(t), ['sip']);
    ws.send('\r\n\r\n');
    ws.send('\r\n');
    await waitFor(() => frames.length === 2);
    expect(frames.map((f) => f.data.toString())).toEqual(['\r\n', '\r\n']);
    expect(frames.every((f) => !f.binary)).toBe(true);
    const pong = new Promise<string>((resolve) => ws.once('pong', (d: Buffer) => resolve(d.toString())));
    ws.ping('are-you-there');
    expect(await pong).toBe('are-you-there');
    await delay(20);
    expect(inbox.messages).toHaveLength(0);
  });

  it('drops binary garbage frames but keeps the connection', async () => {
    const { layer, inbox, t } = await wsLayer();
    const { ws } = await wsClient(urlOf(t), ['sip']);
    ws.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x81]), { binary: true });
    ws.send(Buffer.alloc(0), { binary: true });
    const req = sipRequest('OPTIONS');
    ws.send(req);
    const [m] = await inbox.next();
    expect(m.data.equals(req)).toBe(true);
    expect(layer.stats().dropped).toBe(1);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a connection that sends a frame above maxMessageBytes (1009)', async () => {
    const { closed, t } = await wsLayer({}, { maxMessageBytes: 1024 });
    const { ws } = await wsClient(urlOf(t), ['sip']);
    const code = new Promise<number>((resolve) => ws.once('close', (c: number) => resolve(c)));
    ws.send(sipRequest('MESSAGE', { body: 'x'.repeat(4000) }));
    expect(await code).toBe(1009);
    await waitFor(() => closed.length === 1);
  });

  it('answers plain HTTP with 426, malformed HTTP with 400, and wrong paths with 404', async () => {
    const { inbox, t } = await wsLayer({ wsPath: '/sip' });
    expect(await httpStatus(t)).toBe(426);
    const raw = netConnect({ host: '127.0.0.1', port: t.localPort });
    raw.on('error', () => undefined);
    const sink = new ByteSink(raw);
    raw.write('\x00\x01garbage that is not http\r\n\r\n');
    await sink.until((s) => s.closed);
    expect(sink.data.toString()).toMatch(/^HTTP\/1\.1 400/);
    const wrongPath = await new Promise<number>((resolve) => {
      const ws = new WebSocket(urlOf(t, '/other'), ['sip']);
      clients.push(ws);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(wrongPath).toBe(404);
    const ok = await wsClient(urlOf(t, '/sip?token=1'), ['sip']);
    ok.ws.send(sipRequest('OPTIONS'));
    await inbox.next();
  });

  it('rejects send() on a closed ws connection and emits closed exactly once', async () => {
    const { layer, inbox, t, closed } = await wsLayer();
    const { ws } = await wsClient(urlOf(t), ['sip']);
    ws.send(sipRequest('REGISTER'));
    const [m] = await inbox.next();
    ws.close();
    await waitFor(() => closed.length === 1);
    const conn = m.connection as Connection;
    expect(conn.closed).toBe(true);
    await expect(layer.send(sipResponse(), { protocol: 'ws', address: conn.remoteAddress, port: conn.remotePort, connection: conn })).rejects.toMatchObject({
      code: 'ECLOSED',
    });
    await delay(20);
    expect(closed).toHaveLength(1);
  });

  it('serves WSS with a certificate the client verifies', async () => {
    const { layer, inbox, t } = await wsLayer({ protocol: 'wss' });
    const { ws, frames } = await wsClient(urlOf(t), ['sip'], { ca: readFileSync(cert.certFile) });
    const req = sipRequest('INVITE', { body: 'v=0\r\n' });
    ws.send(req);
    const [m] = await inbox.next();
    expect(m.protocol).toBe('wss');
    expect(m.data.equals(req)).toBe(true);
    await layer.send(sipResponse(), { protocol: 'wss', address: m.remoteAddress, port: m.remotePort, connection: m.connection });
    await waitFor(() => frames.length === 1);
    expect(frames[0].data.equals(sipResponse())).toBe(true);
  });

  for (const protocol of ['ws', 'wss'] as const) {
    it(`connects out as a ${protocol} client to another layer and reuses the flow`, async () => {
      const server = await wsLayer({ protocol });
      const clientSide = await wsLayer({ protocol });
      const target = { protocol, address: '127.0.0.1', port: server.t.localPort };
      const [r1, r2] = await Promise.all([clientSide.layer.send(sipRequest('OPTIONS'), target), clientSide.layer.send(sipRequest('OPTIONS'), target)]);
      expect(r1.connection).toBe(r2.connection);
      expect(r1.connection).toMatchObject({ protocol, inbound: false, transport: clientSide.t });
      const [m] = await server.inbox.next(2);
      await server.layer.send(sipResponse(), { protocol, address: m.remoteAddress, port: m.remotePort, connection: m.connection });
      const [answer] = await clientSide.inbox.next();
      expect(answer.connection).toBe(r1.connection);
      expect(answer.data.equals(sipResponse())).toBe(true);
    });
  }

  it('works over ::1', async () => {
    const { inbox, t } = await wsLayer({ host: '::1' });
    const { ws } = await wsClient(urlOf(t), ['sip']);
    ws.send(sipRequest('OPTIONS'));
    const [m] = await inbox.next();
    expect(m.remoteAddress).toBe('::1');
    expect(m.connection?.transport.family).toBe(6);
  });
});
