/**
 * The gateway's media plane from its configuration: in `local` mode a private rtpengine daemon
 * (started here, stopped in stop() and on process exit), in `remote` mode the configured ones; in
 * both, an RtpenginePool with health pings and, when asked, the DTMF event listener that the local
 * daemon reports to (--dtmf-log-dest). Remote rtpengines must be started with --dtmf-log-dest
 * pointing at the listener themselves. dtmfEventsAddress() says where the listener goes by
 * default (rtpengine.dtmfEvents in the config).
 */
import type { RtpengineConfig } from '../config/schema';
import { DtmfEventListener } from '../app/media/dtmf-events';
import { RtpenginePool } from '../app/media/rtpengine-pool';
import { createLogger } from '../logging/logger';
import { RtpengineProcess } from './rtpengine-process';

const log = createLogger('media-servers');

export interface MediaServersOptions {
  /** Listen for rtpengine DTMF events here (RFC 4733 -> SIP INFO). Port 0 picks one. See dtmfEventsAddress(). */
  dtmfEvents?: { host: string; port: number };
  /** Run the local daemon in this network namespace (browser tests). */
  netns?: string;
}

export interface MediaServers {
  pool: RtpenginePool;
  dtmfEvents: DtmfEventListener | undefined;
  localProcess: RtpengineProcess | undefined;
  stop(): Promise<void>;
}

/**
 * Where to listen for rtpengine's DTMF events, from rtpengine.dtmfEvents: as configured; nowhere
 * when it is `false`; by default a free port on 127.0.0.1 in local mode (the daemon started here
 * reports there; with it rtpengine runs every stream through its RTP handler instead of a plain
 * forward, which the default `inject DTMF` policy does anyway) and nowhere in remote mode (the
 * remote daemons would need to be told). Not by default when the daemon runs in another network
 * namespace: its loopback is not ours.
 */
export function dtmfEventsAddress(config: RtpengineConfig, options: { netns?: string } = {}): { host: string; port: number } | undefined {
  const setting = config.dtmfEvents;
  if (setting === false) return undefined;
  if (setting) return setting;
  return config.mode === 'local' && !options.netns ? { host: '127.0.0.1', port: 0 } : undefined;
}

export async function startMediaServers(config: RtpengineConfig, options: MediaServersOptions = {}): Promise<MediaServers> {
  let dtmfEvents: DtmfEventListener | undefined;
  let localProcess: RtpengineProcess | undefined;
  let pool: RtpenginePool | undefined;
  const stop = async (): Promise<void> => {
    pool?.stop();
    dtmfEvents?.stop();
    await localProcess?.stop();
  };
  try {
    if (options.dtmfEvents) {
      dtmfEvents = new DtmfEventListener(options.dtmfEvents);
      await dtmfEvents.start();
    }
    const endpoints = config.mode === 'local' ? [{ host: config.local.ngHost, port: config.local.ngPort }] : config.remote;
    if (config.mode === 'local') {
      localProcess = new RtpengineProcess({
        binary: config.local.binary,
        interface: config.local.interface,
        ngHost: config.local.ngHost,
        ngPort: config.local.ngPort,
        portMin: config.local.portMin,
        portMax: config.local.portMax,
        extraArgs: config.local.extraArgs,
        dtmfLogDest: dtmfEvents?.address,
        netns: options.netns,
      });
      await localProcess.start();
    } else if (endpoints.length === 0) {
      throw new Error('rtpengine.mode is remote but rtpengine.remote lists no engine');
    }
    pool = new RtpenginePool(endpoints, {
      timeoutMs: config.timeoutMs,
      retries: config.retries,
      healthIntervalMs: config.healthIntervalMs,
    });
    await pool.start();
    log.info({ mode: config.mode, engines: pool.nodes.map((node) => node.id) }, 'media servers started');
    return { pool, dtmfEvents, localProcess, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
