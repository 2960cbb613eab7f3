/**
 * Ports for integration tests: free loopback ports on the host, distinct port numbers for
 * processes that share a namespace (SIPp's -cp/-mp), and waiting until a TCP port accepts.
 */
import { createServer, connect } from 'node:net';
import type { NetworkNamespace } from './netns.js';

/** A TCP port that is free on `host` right now (the kernel picks it). */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Hands out distinct ports from a fixed range, `step` apart (SIPp's media port -mp also uses
 * -mp+2, so media ports want a step of 4). Meant for a private namespace where nothing else
 * competes for the numbers.
 */
export class PortSequence {
  private next: number;

  constructor(
    private readonly first: number,
    private readonly last: number,
    private readonly step = 1,
  ) {
    this.next = first;
  }

  take(): number {
    if (this.next > this.last) throw new Error(`port range ${this.first}-${this.last} exhausted`);
    const port = this.next;
    this.next += this.step;
    return port;
  }
}

function tryConnectOnce(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Probe that runs inside a namespace: node exits 0 once host:port accepts, 1 at the deadline. */
const NAMESPACE_PROBE = `
const net = require('node:net');
const [host, port, timeoutMs] = process.argv.slice(1);
const deadline = Date.now() + Number(timeoutMs);
(function attempt() {
  const socket = net.connect({ host, port: Number(port) });
  socket.once('connect', () => { socket.destroy(); process.exit(0); });
  socket.once('error', () => {
    socket.destroy();
    if (Date.now() > deadline) process.exit(1);
    setTimeout(attempt, 100);
  });
})();
`;

export interface WaitForTcpOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** Probe from inside this namespace instead of from the test process. */
  netns?: NetworkNamespace;
  /** Stop waiting early (e.g. the server process exited); checked between attempts. */
  givenUp?: () => string | undefined;
}

/** Resolves once host:port accepts a TCP connection; rejects on timeout or when givenUp() returns a reason. */
export async function waitForTcpPort(options: WaitForTcpOptions): Promise<void> {
  const { host, port, timeoutMs, netns, givenUp } = options;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reason = givenUp?.();
    if (reason) throw new Error(`gave up waiting for ${host}:${port}: ${reason}`);
    const sliceMs = Math.min(1000, Math.max(100, deadline - Date.now()));
    const accepted = netns
      ? (await netns.exec(process.execPath, ['-e', NAMESPACE_PROBE, host, String(port), String(sliceMs)])).code === 0
      : await tryConnectOnce(host, port, sliceMs);
    if (accepted) return;
    if (!netns) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${host}:${port} did not accept TCP connections within ${timeoutMs} ms`);
}
