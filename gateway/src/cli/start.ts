/**
 * `gateway start`: the engine in its own process (so engine and app use both cores) and the
 * gateway app in this one, connected over the drachtio control port on loopback.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { UsageError } from './engine-options';
import { createLogger } from '../logging/logger';
import { startGatewayApp } from '../app';
import { loadConfig, userWithPassword } from '../config/loader';
import type { GatewayConfig } from '../config/schema';
import { startHttpServer } from '../app/http/http-server';

const log = createLogger('start');

function waitForPort(port: number, host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`engine control port ${host}:${port} did not open`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** ws(s)://host:port of the first WebSocket contact, for the page. */
function webSocketUrl(contacts: string[]): string | undefined {
  for (const c of contacts) {
    const m = /^sips?:(\[[^\]]+\]|[^:;]+)(?::(\d+))?;.*transport=[^;]*\b(wss?)\b/i.exec(c);
    if (m) return `${m[3].toLowerCase()}://${m[1] === '*' ? '127.0.0.1' : m[1]}:${m[2] ?? (m[3].toLowerCase() === 'wss' ? 443 : 80)}`;
  }
  return undefined;
}

/**
 * When the configuration lists no users, `npm start` is a local demo: two users with fresh random
 * passwords, printed once, everything on loopback.
 */
function withDemoUsers(config: GatewayConfig): { config: GatewayConfig; demo?: Array<[string, string]> } {
  if (config.users.length) return { config };
  const demo: Array<[string, string]> = ['alice', 'bob'].map((u) => [u, randomBytes(6).toString('base64url')]);
  return { config: { ...config, users: demo.map(([u, p]) => userWithPassword(u, config.realm, p)) }, demo };
}

export async function runGateway(argv: string[]): Promise<void> {
  const { config, demo } = withDemoUsers(loadConfig());
  const adminPort = Number(process.env.GATEWAY_ENGINE_ADMIN_PORT ?? 9022);
  const secret = process.env.GATEWAY_ENGINE_SECRET ?? randomBytes(12).toString('hex');
  const contacts = process.env.GATEWAY_SIP_CONTACTS ? process.env.GATEWAY_SIP_CONTACTS.split(' ').filter(Boolean) : config.sip.contacts;
  const certFile = config.sip.certFile ?? config.http.certFile;
  const keyFile = config.sip.keyFile ?? config.http.keyFile;
  const tlsArgs = certFile && keyFile ? ['--cert-file', certFile, '--key-file', keyFile] : [];
  const engineArgs = ['engine', '--address', '127.0.0.1', '--port', String(adminPort), '--secret', secret, ...contacts.flatMap((c) => ['--contact', c]), ...tlsArgs, ...argv];
  const engine: ChildProcess = fork(__dirname + '/index.js', engineArgs, { stdio: 'inherit' });
  let stopping = false;
  engine.once('exit', (code) => {
    if (!stopping) {
      log.fatal({ code }, 'engine process exited');
      process.exit(1);
    }
  });
  await waitForPort(adminPort, '127.0.0.1', 10_000);
  let app;
  try {
    app = await startGatewayApp({ host: '127.0.0.1', port: adminPort, secret }, config);
  } catch (err) {
    stopping = true;
    engine.kill('SIGTERM');
    throw err;
  }
  const sipWebSocketUrl = config.http.sipWebSocketUrl ?? webSocketUrl(contacts) ?? '';
  const running = app;
  const http = await startHttpServer({
    ...config.http,
    sipWebSocketUrl,
    domain: config.domain,
    status: () => ({ calls: running.calls.size, registrar: running.registrar.stats(), rtpengine: running.media.pool.metrics() }),
  });
  log.info({ sip: contacts }, 'gateway running');
  const lines = [`Softphone: ${http.url}  (SIP WebSocket ${sipWebSocketUrl || 'none configured'}, domain ${config.domain})`];
  for (const [u, p] of demo ?? []) lines.push(`  sign in as ${u} / ${p}: ${http.url}?server=${encodeURIComponent(sipWebSocketUrl)}&user=${u}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = () => {
    stopping = true;
    void Promise.all([app.close(), http.close()]).finally(() => {
      engine.kill('SIGTERM');
      setTimeout(() => process.exit(0), 200).unref();
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** `gateway app`: the app alone, connected to an external drachtio-server (docker-compose). */
export async function runApp(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'drachtio-host': { type: 'string' }, 'drachtio-port': { type: 'string' }, secret: { type: 'string' } },
  });
  const secret = values.secret ?? process.env.DRACHTIO_SECRET;
  if (!secret) throw new UsageError('the app needs the drachtio secret: --secret or DRACHTIO_SECRET');
  const app = await startGatewayApp({ host: values['drachtio-host'] ?? '127.0.0.1', port: Number(values['drachtio-port'] ?? 9022), secret }, loadConfig());
  process.once('SIGTERM', () => void app.close().finally(() => process.exit(0)));
}
