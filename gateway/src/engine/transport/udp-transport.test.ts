import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { setLogLevel } from '../../logging/logger';
import { TransportLayer, TransportError } from './index';
import { MessageCollector, delay, sipRequest, sipResponse, waitFor } from './transport-test-support';

beforeAll(() => setLogLevel(process.env.GATEWAY_LOG_LEVEL ?? 'silent'));

const layers: TransportLayer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  await Promise.all(layers.splice(0).map((l) => l.close()));
  for (const s of sockets.splice(0)) s.close();
});

function newLayer(opts?: ConstructorParameters<typeof TransportLayer>[0]): TransportLayer {
  const l = new TransportLayer(opts);
  layers.push(l);
  return l;
}

async function udpClient(type: 'udp4' | 'udp6', address: string): Promise<{ sock: Socket; received: Buffer[] }> {
  const sock = createSocket(type);
  sockets.push(sock);
  const received: Buffer[] = [];
  sock.on('message', (m) => received.push(m));
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  return { sock, received };
}

function sendFrom(sock: Socket, data: Buffer, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => sock.send(data, port, address, (err) => (err ? reject(err) : resolve())));
}

describe('UDP transport (RFC 3261 §18)', () => {
  for (const [family, host, type] of [
    [4, '127.0.0.1', 'udp4'],
    [6, '::1', 'udp6'],
  ] as const) {
    it(`round-trips on ${host}`, async () => {
      const layer = newLayer();
      const inbox = new MessageCollector(layer);
      const [t] = await layer.listen([{ protocol: 'udp', host, port: 0 }]);
      expect(t.localPort).toBeGreaterThan(0);
      expect(t).toMatchObject({ protocol: 'udp', localAddress: host, family, advertisedHost: host });
      expect(t.id).toBe(family === 4 ? `udp/127.0.0.1:${t.localPort}` : `udp/[::1]:${t.localPort}`);

      const client = await udpClient(type, host);
      const req = sipRequest('OPTIONS');
      await sendFrom(client.sock, req, t.localPort, host);
      const [m] = await inbox.next();
      expect(m.data.equals(req)).toBe(true);
      expect(m).toMatchObject({ protocol: 'udp', transport: t, remoteAddress: host, remotePort: client.sock.address().port, localPort: t.localPort });
      expect(m.connection).toBeUndefined();
      expect(m.receivedAt).toBeGreaterThan(0);

      const res = sipResponse();
      const result = await layer.send(res, { protocol: 'udp', address: m.remoteAddress, port: m.remotePort, transport: t });
      expect(result).toMatchObject({ transport: t, localPort: t.localPort });
      await waitFor(() => client.received.length === 1);
      expect(client.received[0].equals(res)).toBe(true);
      expect(layer.stats()).toMatchObject({ messagesIn: 1, messagesOut: 1, connections: 0 });
    });
  }

  it('ignores CRLF keepalives and drops oversized or non-SIP datagrams', async () => {
    const layer = newLayer({ maxMessageBytes: 1000 });
    const inbox = new MessageCollector(layer);
    const [t] = await layer.listen([{ protocol: 'udp', host: '127.0.0.1', port: 0 }]);
    const client = await udpClient('udp4', '127.0.0.1');
    await sendFrom(client.sock, Buffer.from('\r\n\r\n'), t.localPort, '127.0.0.1');
    await sendFrom(client.sock, Buffer.from('\r\n'), t.localPort, '127.0.0.1');
    await sendFrom(client.sock, sipRequest('MESSAGE', { body: 'x'.repeat(2000) }), t.localPort, '127.0.0.1');
    await sendFrom(client.sock, Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), t.localPort, '127.0.0.1'); // STUN
    const ok = sipRequest('OPTIONS');
    await sendFrom(client.sock, ok, t.localPort, '127.0.0.1');
    const [m] = await inbox.next();
    expect(m.data.equals(ok)).toBe(true);
    await delay(20);
    expect(inbox.messages).toHaveLength(1);
    expect(layer.stats()).toMatchObject({ messagesIn: 1, dropped: 2 });
  });

  it('rejects too-big messages and destinations it has no socket for', async () => {
    const layer = newLayer();
    await layer.listen([{ protocol: 'udp', host: '127.0.0.1', port: 0 }]);
    await expect(layer.send(Buffer.alloc(65508, 0x41), { protocol: 'udp', address: '127.0.0.1', port: 9 })).rejects.toMatchObject({
      code: 'ETOOBIG',
    });
    const err = await layer.send(sipRequest('OPTIONS'), { protocol: 'udp', address: '::1', port: 9 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('ENOTRANSPORT');
  });

  it('picks the UDP socket of the destination family and honours the preferred one', async () => {
    const layer = newLayer();
    const [a, b, v6] = await layer.listen([
      { protocol: 'udp', host: '127.0.0.1', port: 0 },
      { protocol: 'udp', host: '127.0.0.1', port: 0 },
      { protocol: 'udp', host: '::1', port: 0 },
    ]);
    const c4 = await udpClient('udp4', '127.0.0.1');
    const c6 = await udpClient('udp6', '::1');
    const r1 = await layer.send(sipRequest('OPTIONS'), { protocol: 'udp', address: '127.0.0.1', port: c4.sock.address().port });
    expect(r1.transport).toBe(a);
    const r2 = await layer.send(sipRequest('OPTIONS'), { protocol: 'udp', address: '127.0.0.1', port: c4.sock.address().port, transport: b });
    expect(r2.transport).toBe(b);
    const r3 = await layer.send(sipRequest('OPTIONS'), { protocol: 'udp', address: '::1', port: c6.sock.address().port, transport: a });
    expect(r3.transport).toBe(v6);
    await waitFor(() => c4.received.length === 2 && c6.received.length === 1);
  });

  it('rejects listen() clearly when the port is taken, and closes what it opened', async () => {
    const first = newLayer();
    const [t] = await first.listen([{ protocol: 'udp', host: '127.0.0.1', port: 0 }]);
    const second = newLayer();
    const err = await second
      .listen([
        { protocol: 'tcp', host: '127.0.0.1', port: 0 },
        { protocol: 'udp', host: '127.0.0.1', port: t.localPort },
      ])
      .catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(new RegExp(`udp 127\\.0\\.0\\.1:${t.localPort}: EADDRINUSE`));
    expect(second.transports).toHaveLength(0);
    await expect(second.listen([{ protocol: 'udp', host: 'not-an-ip', port: 0 }])).rejects.toThrow(/IP address or a wildcard/);
    // The first layer is unaffected.
    expect(first.transports).toEqual([t]);
  });

  it('close() is safe twice and sends after close are refused', async () => {
    const layer = newLayer();
    await layer.listen([{ protocol: 'udp', host: '127.0.0.1', port: 0 }]);
    await layer.close();
    await layer.close();
    await expect(layer.send(sipRequest('OPTIONS'), { protocol: 'udp', address: '127.0.0.1', port: 9 })).rejects.toMatchObject({ code: 'ECLOSED' });
  });
});

