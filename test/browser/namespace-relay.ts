/**
 * Connects the test process (host network namespace) with 127.0.0.1 ports inside a test
 * namespace, through Unix sockets in a temporary directory and one relay process inside:
 *
 *   expose: a server the test process runs on a Unix socket (e.g. the static HTTPS server)
 *           becomes 127.0.0.1:nsPort inside the namespace (Chromium loads the page from there);
 *   reach:  127.0.0.1:nsPort inside the namespace (e.g. the engine's admin port) becomes
 *           127.0.0.1:<ephemeral> on the host (the test's drachtio-srf app connects there).
 *
 * Only `lo` exists in the namespace and no packet leaves loopback on either side.
 */
import { type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:net';
import { OutputCapture, stopChild } from '../harness/child-processes.js';
import { registerExitCleanup } from '../harness/exit-cleanup.js';
import type { NetworkNamespace } from '../harness/netns.js';

const relayScript = fileURLToPath(new URL('./namespace-relay.cjs', import.meta.url));
const { relay } = createRequire(import.meta.url)('./namespace-relay.cjs') as {
  relay(from: object, to: object, onListening?: () => void): Server;
};

export interface RelayOptions {
  /** Directory for the Unix sockets (short path: sun_path holds 107 bytes). */
  socketDir: string;
  expose?: ReadonlyArray<{ nsPort: number; socketPath: string }>;
  reach?: readonly number[];
  readyTimeoutMs?: number;
}

export class NamespaceRelay {
  private constructor(
    private readonly child: ChildProcess,
    private readonly capture: OutputCapture,
    private readonly hostServers: Map<number, Server>,
    private readonly unregisterExitCleanup: () => void,
  ) {}

  static async start(netns: NetworkNamespace, options: RelayOptions): Promise<NamespaceRelay> {
    const forwards = [
      ...(options.expose ?? []).map(({ nsPort, socketPath }) => ({ from: { host: '127.0.0.1', port: nsPort }, to: { path: socketPath } })),
      ...(options.reach ?? []).map((nsPort) => ({ from: { path: join(options.socketDir, `reach-${nsPort}.sock`) }, to: { host: '127.0.0.1', port: nsPort } })),
    ];
    const child = netns.spawn(process.execPath, [relayScript, JSON.stringify(forwards)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = registerExitCleanup(() => child.kill('SIGKILL'));
    const capture = new OutputCapture(100_000);
    capture.attach(child);
    const hostServers = new Map<number, Server>();
    const instance = new NamespaceRelay(child, capture, hostServers, unregister);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the namespace relay did not become ready')), options.readyTimeoutMs ?? 10_000);
        const check = (): void => {
          if (capture.output.includes('relay ready')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on('data', check);
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`the namespace relay exited (${code}): ${capture.output}`)));
      });
      for (const nsPort of options.reach ?? []) {
        const server = relay({ host: '127.0.0.1', port: 0 }, { path: join(options.socketDir, `reach-${nsPort}.sock`) });
        await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
        hostServers.set(nsPort, server);
      }
    } catch (error) {
      await instance.stop();
      throw error;
    }
    return instance;
  }

  /** The host-side 127.0.0.1 port that leads to 127.0.0.1:nsPort inside the namespace. */
  hostPort(nsPort: number): number {
    const address = this.hostServers.get(nsPort)?.address();
    if (!address || typeof address !== 'object') throw new Error(`port ${nsPort} is not relayed to the host`);
    return address.port;
  }

  get output(): string {
    return this.capture.output;
  }

  async stop(): Promise<void> {
    for (const server of this.hostServers.values()) server.close();
    this.hostServers.clear();
    await stopChild(this.child, 1000);
    this.unregisterExitCleanup();
  }
}
