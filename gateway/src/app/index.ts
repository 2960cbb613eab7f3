/**
 * The gateway app: a drachtio-srf application. It talks to the SIP engine only through
 * drachtio-srf, so it runs unchanged against a real drachtio-server.
 *
 * So far it answers OPTIONS (health checks from trunks and load balancers); registrar, routing
 * and the B2BUA arrive with the calls-with-media work.
 */
import Srf from 'drachtio-srf';
import { createLogger } from '../logging/logger';

const log = createLogger('app');

export interface DrachtioConnection {
  host: string;
  port: number;
  secret: string;
}

export interface GatewayApp {
  srf: Srf;
  close(): void;
}

export function startGatewayApp(conn: DrachtioConnection): Promise<GatewayApp> {
  const srf = new Srf();
  srf.use('options', (_req, res) => {
    res.send(200);
  });
  return new Promise((resolve, reject) => {
    srf.once('connect', (err: Error | undefined, hostport: string) => {
      if (err) return reject(err);
      log.info({ hostport }, 'app connected to SIP engine');
      resolve({ srf, close: () => srf.disconnect() });
    });
    srf.on('error', (err: Error) => log.warn({ err: err.message }, 'drachtio connection error'));
    srf.connect(conn);
  });
}
