// Free local ports for the bench (checked by binding, on 0.0.0.0 so SIPp's wildcard control
// socket cannot collide either). Bounded number of attempts.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

function udpFree(port) {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, '0.0.0.0', () => sock.close(() => resolve(true)));
  });
}

function tcpFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

const taken = new Set();

/**
 * A port p (and p+2 when `pairPlus2`, for SIPp's -mp) free for UDP and TCP. Ports handed out
 * before are not reused within this run.
 */
export async function freePort({ pairPlus2 = false, low = 21000, high = 59000 } = {}) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + 2 * Math.floor((Math.random() * (high - low)) / 2);
    const wanted = pairPlus2 ? [port, port + 1, port + 2, port + 3] : [port];
    if (wanted.some((p) => taken.has(p))) continue;
    let ok = true;
    for (const p of wanted) {
      if (!(await udpFree(p)) || !(await tcpFree(p))) {
        ok = false;
        break;
      }
    }
    if (ok) {
      wanted.forEach((p) => taken.add(p));
      return port;
    }
  }
  throw new Error('no free local port found after 200 attempts');
}

/** Resolves true once host:port accepts a TCP connection. */
export function tcpReachable(host, port, timeoutMs = 500) {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const sock = connect({ host, port });
      const done = (ok) => {
        sock.destroy();
        resolve(ok);
      };
      sock.setTimeout(timeoutMs, () => done(false));
      sock.once('connect', () => done(true));
      sock.once('error', () => done(false));
    });
  });
}
