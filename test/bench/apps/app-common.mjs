// Shared plumbing for the bench's srf apps: argv parsing, connecting to the engine's control
// port, and a tiny IPC protocol with the bench (ready / stats / stop).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Srf = require('drachtio-srf');

/** `--host H --port N --secret S` from argv (defaults: 127.0.0.1, 9022, cymru). */
export function parseAppArgs(argv = process.argv.slice(2)) {
  const opts = { host: '127.0.0.1', port: 9022, secret: 'cymru' };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--host') opts.host = value;
    else if (key === '--port') opts.port = Number(value);
    else if (key === '--secret') opts.secret = value;
  }
  return opts;
}

/**
 * Connects an Srf to the engine. `stats()` is polled by the bench over IPC; the app exits on
 * an IPC `stop` message, on SIGTERM, or when the bench (its IPC peer) goes away.
 */
export function startApp(name, stats) {
  const opts = parseAppArgs();
  const srf = new Srf();
  const send = (msg) => {
    if (process.connected) process.send(msg);
  };
  srf.connect({ host: opts.host, port: opts.port, secret: opts.secret });
  srf.on('connect', (err, hostport) => {
    if (err) {
      send({ type: 'error', message: String(err) });
      return;
    }
    send({ type: 'ready', hostport });
  });
  srf.on('error', (err) => send({ type: 'error', message: String(err?.message ?? err) }));
  const stop = () => {
    try {
      srf.disconnect();
    } finally {
      process.exit(0);
    }
  };
  process.on('message', (msg) => {
    if (msg?.type === 'stats') send({ type: 'stats', id: msg.id, stats: stats() });
    else if (msg?.type === 'stop') stop();
  });
  process.on('disconnect', stop);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.title = `bench-${name}`;
  return srf;
}
