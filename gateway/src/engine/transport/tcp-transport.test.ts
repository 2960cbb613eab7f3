import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { setLogLevel } from '../../logging/logger';
import { TransportLayer, type Connection, type Transport } from './index';
import { ByteSink, MessageCollector, connectRaw, delay, sipRequest, sipResponse, waitFor } from './transport-test-support';

beforeAll(() => setLogLevel(process.env.GATEWAY_LOG_LEVEL ?? 'silent'));

const layers: TransportLayer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(layers.splice(0).map((l) => l.close()));
});

async function tcpLayer(host = '127.0.0.1', opts?: ConstructorParameters<typeof TransportLayer>[0]) {
  const layer = new TransportLayer(opts);
  layers.push(layer);
  const inbox = new MessageCollector(layer);
  const opened: Connection[] = [];
  const closed: Connection[] = [];
  layer.on('connection-opened', (c: Connection) => opened.push(c));
  layer.on('connection-closed', (c: Connection) => closed.push(c));
  const [t] = await layer.listen([{ protocol: 'tcp', host, port: 0 }]);
  return { layer, inbox, t, opened, closed };
}

async function client(t: Transport): Promise<{ sock: Socket; sink: ByteSink }> {
  const sock = await connectRaw(t.localPort, t.localAddress);
  sockets.push(sock);
  sock.on('error', () => undefined);
  return { sock, sink: new ByteSink(sock) };
}

describe('TCP transport (RFC 3261 §18.3 framing)', () => {
  it('delivers an inbound request and answers on the same connection (§18.2.2)', async () => {
    const { layer, inbox, t, opened } = await tcpLayer();
    const { sock, sink } = await client(t);
    const req = sipRequest('INVITE', { body: 'v=0\r\n' });
    sock.write(req);
    const [m] = await inbox.next();
    expect(m.data.equals(req)).toBe(true);
    expect(m.protocol).toBe('tcp');
    expect(m.connection).toBeDefined();
    const conn = m.connection as Connection;
    expect(opened).toEqual([conn]);
    expect(conn).toMatchObject({ inbound: true, closed: false, remoteAddress: '127.0.0.1', remotePort: sock.localPort, localPort: t.localPort, transport: t });
    expect(layer.getConnection(conn.id)).toBe(conn);
    expect(layer.findConnection('tcp', '127.0.0.1', sock.localPort as number)).toBe(conn);

    const res = sipResponse('180 Ringing');
    const r = await layer.send(res, { protocol: 'tcp', address: '127.0.0.1', port: 1, connection: conn });
    expect(r.connection).toBe(conn);
    // Without an explicit connection, the open flow to that address/port is reused (§18.1.1).
    const r2 = await layer.send(sipResponse('200 OK'), { protocol: 'tcp', address: '127.0.0.1', port: sock.localPort as number });
    expect(r2.connection).toBe(conn);
    await sink.until((s) => s.data.length === res.length + sipResponse('200 OK').length);
    expect(sink.data.subarray(0, res.length).equals(res)).toBe(true);
    expect(layer.stats()).toMatchObject({ connections: 1, messagesIn: 1, messagesOut: 2 });
  });

  it('frames 1000 tiny messages written in one chunk', async () => {
    const { inbox, t } = await tcpLayer();
    const { sock } = await client(t);
    const msgs = Array.from({ length: 1000 }, (_, i) => sipRequest('OPTIONS', { callId: `call-${i}` }));
    sock.write(Buffer.concat(msgs));
    await inbox.waitForTotal(1000);
    for (let i = 0; i < 1000; i++) expect(inbox.messages[i].data.equals(msgs[i])).toBe(true);
  });

  it('reassembles a message written byte by byte', async () => {
    const { inbox, t } = await tcpLayer();
    const { sock } = await client(t);
    sock.setNoDelay(true);
    const req = sipRequest('MESSAGE', { body: 'hello byte by byte' });
    for (let i = 0; i < req.length; i++) {
      sock.write(req.subarray(i, i + 1));
      if (i % 16 === 0) await delay(1);
    }
    const [m] = await inbox.next();
    expect(m.data.equals(req)).toBe(true);
  });

  it('answers a CRLFCRLF ping with one CRLF and delivers nothing (RFC 5626 §3.5.1)', async () => {
    const { inbox, t } = await tcpLayer();
    const { sock, sink } = await client(t);
    sock.write('\r\n\r\n');
    await sink.until((s) => s.data.length >= 2);
    await delay(20);
    expect(sink.data.toString('latin1')).toBe('\r\n');
    const req = sipRequest('OPTIONS');
    sock.write(Buffer.concat([Buffer.from('\r\n'), req]));
    const [m] = await inbox.next();
    expect(m.data.equals(req)).toBe(true);
    expect(inbox.messages).toHaveLength(1);
  });

  it('closes on garbage bytes without crashing, and keeps serving others', async () => {
    const { inbox, t, closed } = await tcpLayer();
    const bad = await client(t);
    bad.sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0xff, 0xfe, 0x00]));
    await bad.sink.until((s) => s.closed);
    await waitFor(() => closed.length === 1, 2000, 'connection-closed');
    const good = await client(t);
    good.sock.write(sipRequest('OPTIONS'));
    await inbox.next();
    expect(inbox.messages).toHaveLength(1);
  });

  it('closes a connection whose header block or Content-Length exceeds the maximum', async () => {
    const { t, closed } = await tcpLayer('127.0.0.1', { maxMessageBytes: 2048 });
    const a = await client(t);
    a.sock.write(`INVITE sip:a@b SIP/2.0\r\n${'X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(100)}`);
    await a.sink.until((s) => s.closed);
    const b = await client(t);
    b.sock.write('INVITE sip:a@b SIP/2.0\r\nContent-Length: 100000\r\n\r\n');
    await b.sink.until((s) => s.closed);
    await waitFor(() => closed.length === 2, 2000, 'two closes');
  });

  it('survives a client that disconnects mid-message; closed is emitted exactly once', async () => {
    const { layer, inbox, t, opened, closed } = await tcpLayer();
    const { sock } = await client(t);
    const req = sipRequest('INVITE', { body: 'x'.repeat(200) });
    sock.write(req.subarray(0, 100));
    await waitFor(() => opened.length === 1, 2000, 'open');
    sock.destroy();
    await waitFor(() => closed.length === 1, 2000, 'close');
    await delay(30);
    expect(closed).toEqual(opened);
    expect(closed[0].closed).toBe(true);
    expect(inbox.messages).toHaveLength(0);
    expect(layer.stats().connections).toBe(0);
    expect(layer.getConnection(opened[0].id)).toBeUndefined();
  });

  it('rejects send() on a closed connection with ECLOSED; closeConnection closes it once', async () => {
    const { layer, inbox, t, closed } = await tcpLayer();
    const { sock, sink } = await client(t);
    sock.write(sipRequest('REGISTER'));
    const [m] = await inbox.next();
    const conn = m.connection as Connection;
    layer.closeConnection(conn.id);
    layer.closeConnection(conn.id);
    expect(conn.closed).toBe(true);
    await expect(layer.send(sipResponse(), { protocol: 'tcp', address: conn.remoteAddress, port: conn.remotePort, connection: conn })).rejects.toMatchObject({
      code: 'ECLOSED',
    });
    await sink.until((s) => s.closed);
    await delay(20);
    expect(closed).toEqual([conn]);
  });

  it('connects out, reuses the flow, shares one connect between concurrent sends, and gets answers on it', async () => {
    const server = await tcpLayer();
    const clientSide = await tcpLayer();
    const target = { protocol: 'tcp' as const, address: '127.0.0.1', port: server.t.localPort };
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => clientSide.layer.send(sipRequest('OPTIONS', { callId: `c${i}` }), target)));
    const conn = results[0].connection as Connection;
    expect(results.every((r) => r.connection === conn)).toBe(true);
    expect(conn).toMatchObject({ inbound: false, protocol: 'tcp', remoteAddress: '127.0.0.1', remotePort: server.t.localPort, transport: clientSide.t });
    expect(clientSide.layer.stats().connections).toBe(1);
    expect(clientSide.opened).toEqual([conn]);
    const got = await server.inbox.waitForTotal(5).then(() => server.inbox.messages);
    expect(got.map((m) => m.data.toString()).sort()).toHaveLength(5);
    const inboundConn = got[0].connection as Connection;
    expect(inboundConn.remotePort).toBe(conn.localPort);
    // The server answers over its inbound flow; the client receives on its outbound flow.
    await server.layer.send(sipResponse(), { protocol: 'tcp', address: inboundConn.remoteAddress, port: inboundConn.remotePort, connection: inboundConn });
    const [answer] = await clientSide.inbox.next();
    expect(answer.connection).toBe(conn);
    expect(answer.data.equals(sipResponse())).toBe(true);
  });

  it('round-trips over ::1', async () => {
    const server = await tcpLayer('::1');
    const clientSide = await tcpLayer('::1');
    expect(server.t.family).toBe(6);
    const req = sipRequest('OPTIONS');
    const r = await clientSide.layer.send(req, { protocol: 'tcp', address: '::1', port: server.t.localPort });
    expect(r.connection?.remoteAddress).toBe('::1');
    expect(r.localAddress).toBe('::1');
    const [m] = await server.inbox.next();
    expect(m.data.equals(req)).toBe(true);
    expect(m.remoteAddress).toBe('::1');
    expect(server.layer.findConnection('tcp', '[::1]', m.remotePort)).toBe(m.connection);
  });

  it('fails with ECONNECT when nobody listens, and ENOTRANSPORT without a tcp listener', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { layer } = await tcpLayer();
    await expect(layer.send(sipRequest('OPTIONS'), { protocol: 'tcp', address: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ECONNECT' });
    expect(layer.stats().connections).toBe(0);
    await expect(layer.send(sipRequest('OPTIONS'), { protocol: 'tls', address: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ENOTRANSPORT' });
  });

  it('refuses inbound connections above maxConnections', async () => {
    const { layer, inbox, t } = await tcpLayer('127.0.0.1', { maxConnections: 1 });
    const first = await client(t);
    first.sock.write(sipRequest('OPTIONS'));
    await inbox.next();
    const second = await client(t);
    await second.sink.until((s) => s.closed);
    expect(layer.stats().connections).toBe(1);
  });

  it('closes idle outbound connections but not inbound ones', async () => {
    const server = await tcpLayer();
    const clientSide = await tcpLayer('127.0.0.1', { outboundIdleTimeoutMs: 150 });
    await clientSide.layer.send(sipRequest('OPTIONS'), { protocol: 'tcp', address: '127.0.0.1', port: server.t.localPort });
    await waitFor(() => clientSide.closed.length === 1, 3000, 'idle close');
    await waitFor(() => server.closed.length === 1, 3000, 'peer sees close');
    const inbound = await client(clientSide.t);
    inbound.sock.write(sipRequest('OPTIONS'));
    await clientSide.inbox.next();
    await delay(300);
    expect(inbound.sink.closed).toBe(false);
  });

  it('keeps running when the message handler throws', async () => {
    const { layer, t } = await tcpLayer();
    let calls = 0;
    layer.onMessage(() => {
      calls++;
      throw new Error('boom');
    });
    const { sock } = await client(t);
    sock.write(Buffer.concat([sipRequest('OPTIONS'), sipRequest('OPTIONS')]));
    await waitFor(() => calls === 2, 2000, 'two calls');
  });
});
