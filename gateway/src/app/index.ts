/**
 * The gateway app: a drachtio-srf application. It talks to the SIP engine only through
 * drachtio-srf, so it runs unchanged against a real drachtio-server.
 *
 *   REGISTER  -> digest auth (401) -> registrar
 *   INVITE    -> digest auth (407; configured desk phones are trusted by address)
 *                -> routing -> B2BUA with rtpengine (calls/)
 *   OPTIONS   -> 200 (health checks from trunks and load balancers)
 *   RFC 4733 digits reported by rtpengine -> SIP INFO toward legs that asked with Recv-Info: dtmf
 *                (RFC 6086; calls/dtmf-to-info.ts, an observer of the call registry)
 */
import Srf from 'drachtio-srf';
import { createLogger } from '../logging/logger';
import type { GatewayConfig } from '../config/schema';
import { parseConfig } from '../config/loader';
import { dtmfEventsAddress, startMediaServers, type MediaServers } from '../services/media-servers';
import { createRegistrar, type Registrar } from './registrar';
import { digestAuth } from './policy/digest-auth';
import { Router } from './routing/router';
import { CallRegistry } from './calls/call-registry';
import { createInviteHandler } from './calls/invite-handler';
import { DtmfToInfo } from './calls/dtmf-to-info';

const log = createLogger('app');

export interface DrachtioConnection {
  host: string;
  port: number;
  secret: string;
}

export interface GatewayApp {
  srf: Srf;
  registrar: Registrar;
  calls: CallRegistry;
  media: MediaServers;
  /** RFC 4733 -> SIP INFO for legs that asked (Recv-Info: dtmf); observes `calls`. */
  dtmfToInfo: DtmfToInfo;
  close(): Promise<void>;
}

export interface GatewayAppOptions {
  /** Run a local rtpengine inside this network namespace (browser tests). */
  netns?: string;
}

function connect(srf: Srf, conn: DrachtioConnection): Promise<string> {
  return new Promise((resolve, reject) => {
    srf.once('connect', (err: Error | undefined, hostport: string) => (err ? reject(err) : resolve(hostport)));
    srf.on('error', (err: Error) => log.warn({ err: err.message }, 'drachtio connection error'));
    srf.connect(conn);
  });
}

export async function startGatewayApp(conn: DrachtioConnection, config: GatewayConfig = parseConfig({}), options: GatewayAppOptions = {}): Promise<GatewayApp> {
  const media = await startMediaServers(config.rtpengine, { netns: options.netns, dtmfEvents: dtmfEventsAddress(config.rtpengine, options) });
  const srf = new Srf();
  let registrar: Registrar | undefined;
  let inviteAuth: ReturnType<typeof digestAuth> | undefined;
  const calls = new CallRegistry();
  const dtmfToInfo = new DtmfToInfo(media.dtmfEvents);
  const stopDtmfToInfo = calls.observe(dtmfToInfo);
  try {
    registrar = createRegistrar(srf, config, config.users);
    const router = new Router(config, registrar);
    const users = new Map(config.users.map((u) => [u.username, u]));
    inviteAuth = digestAuth({
      realm: config.realm,
      challengeCode: 407,
      lookupUser: (name) => users.get(name),
      skip: (req) => router.phoneAt(req.source_address, Number(req.source_port)) !== undefined,
    });
    srf.use('invite', inviteAuth as never);
    srf.invite(createInviteHandler({ srf, router, registrar, pool: media.pool, calls, transferRingTimeoutMs: config.calls.transferRingTimeoutSeconds * 1000 }));
    srf.use('options', (_req, res) => res.send(200));
    const hostport = await connect(srf, conn);
    log.info({ hostport, users: config.users.length, phones: config.phones.length }, 'app connected to SIP server');
  } catch (err) {
    stopDtmfToInfo();
    inviteAuth?.close();
    registrar?.close();
    await media.stop();
    throw err;
  }
  const auth = inviteAuth;
  const reg = registrar;
  return {
    srf,
    registrar: reg,
    calls,
    media,
    dtmfToInfo,
    close: async () => {
      await calls.endAll('shutdown');
      stopDtmfToInfo();
      dtmfToInfo.close();
      auth.close();
      reg.close();
      srf.disconnect();
      await media.stop();
    },
  };
}
