/**
 * The admin (control) port apps connect to (drachtio-protocol §1.1, inbound mode).
 */
import net from 'node:net';
import { createLogger } from '../../logging/logger';
import { AppConnection, type AppCommand, type AppConnectionInfo } from './app-connection';
import { AppRegistry } from './app-registry';

const log = createLogger('control');

export class ControlServer {
  readonly registry = new AppRegistry();
  private server?: net.Server;

  constructor(
    private readonly info: () => AppConnectionInfo,
    private readonly onCommand: (cmd: AppCommand) => void,
    private readonly onAppClosed: (app: AppConnection) => void,
  ) {}

  listen(port: number, address: string): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => {
        const app = new AppConnection(socket, this.info(), this.onCommand);
        this.registry.add(app);
        app.once('close', () => {
          log.info({ app: app.id }, 'app disconnected');
          this.onAppClosed(app);
        });
      });
      server.once('error', reject);
      server.listen(port, address, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error({ err: err.message }, 'control server error'));
        this.server = server;
        const a = server.address() as net.AddressInfo;
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    for (const app of this.registry.all()) app.close();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
