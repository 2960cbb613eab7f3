/**
 * The gateway's web face: the softphone page (softphone/dist) and the small JSON the page reads
 * to find the SIP WebSocket. HTTPS when a certificate is configured; plain HTTP is only for
 * local development on loopback (browsers treat http://127.0.0.1 as a secure context).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { createLogger } from '../../logging/logger';

const log = createLogger('http');

export interface HttpOptions {
  host: string;
  port: number;
  certFile?: string;
  keyFile?: string;
  /** What the page should connect to, e.g. wss://gw.example.com:8443 */
  sipWebSocketUrl: string;
  domain: string;
  /** Directory of the built softphone (default: <repo>/softphone/dist). */
  softphoneDir?: string;
  /** Live counters for /api/status (calls, registrations, rtpengine). Loopback clients only. */
  status?: () => unknown;
}

export interface HttpServer {
  url: string;
  close(): Promise<void>;
}

export function defaultSoftphoneDir(): string {
  return path.resolve(__dirname, '../../../../softphone/dist');
}

export async function startHttpServer(o: HttpOptions): Promise<HttpServer> {
  const tls = o.certFile && o.keyFile ? { key: readFileSync(o.keyFile), cert: readFileSync(o.certFile) } : undefined;
  if (!tls && !/^(127\.|::1$|localhost$)/.test(o.host)) {
    throw new Error(`refusing to serve the softphone over plain HTTP on ${o.host}: configure http.certFile and http.keyFile`);
  }
  const app: FastifyInstance = tls ? Fastify({ https: tls, logger: false }) : Fastify({ logger: false });
  const root = o.softphoneDir ?? defaultSoftphoneDir();
  app.get('/api/client-config', async () => ({ sipWebSocketUrl: o.sipWebSocketUrl, domain: o.domain }));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/api/status', async (req, reply) => {
    if (!/^(127\.|::1$|::ffff:127\.)/.test(req.ip)) return reply.code(403).send({ error: 'status is served to loopback clients only' });
    return o.status ? o.status() : {};
  });
  if (existsSync(root)) {
    await app.register(fastifyStatic, { root, index: ['index.html'] });
  } else {
    log.warn({ root }, 'softphone not built: run npm run build');
    app.get('/', async (_req, reply) => reply.type('text/plain').send('softphone not built: run npm run build\n'));
  }
  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}/`;
  log.info({ url }, 'softphone page served');
  return { url, close: () => app.close() };
}
