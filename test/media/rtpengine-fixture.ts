/**
 * A real rtpengine for media tests, on loopback with ports nobody else uses: a free ng port (the
 * kernel picks it), a random media range, and optionally a DTMF event listener it reports to.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { RtpengineProcess } from '../../gateway/src/services/rtpengine-process';
import { DtmfEventListener } from '../../gateway/src/app/media/dtmf-events';
import { RtpenginePool } from '../../gateway/src/app/media/rtpengine-pool';
import { MediaSession } from '../../gateway/src/app/media/media-session';
import type { MediaPolicy } from '../../gateway/src/app/media/leg-profiles';
import type { LegKind } from '../../gateway/src/app/media/sdp-policy';
import { resolveExecutable } from '../../gateway/src/services/rtpengine-process';

export const rtpengineMissing = resolveExecutable('rtpengine') === undefined;

/** A UDP port free on 127.0.0.1 right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

export interface TestRtpengine {
  process: RtpengineProcess;
  endpoint: { host: string; port: number };
  dtmfEvents: DtmfEventListener | undefined;
  stop(): Promise<void>;
}

export async function startTestRtpengine(options: { dtmfEvents?: boolean; extraArgs?: string[] } = {}): Promise<TestRtpengine> {
  let dtmfEvents: DtmfEventListener | undefined;
  if (options.dtmfEvents) {
    dtmfEvents = new DtmfEventListener({ host: '127.0.0.1', port: 0 });
    await dtmfEvents.start();
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ngPort = await freeUdpPort();
    const portMin = 2 * randomInt(15_000, 29_000);
    const daemon = new RtpengineProcess({
      interface: '127.0.0.1',
      ngHost: '127.0.0.1',
      ngPort,
      portMin,
      portMax: portMin + 399,
      dtmfLogDest: dtmfEvents?.address,
      extraArgs: options.extraArgs,
    });
    try {
      await daemon.start();
      return {
        process: daemon,
        endpoint: { host: '127.0.0.1', port: ngPort },
        dtmfEvents,
        stop: async () => {
          dtmfEvents?.stop();
          await daemon.stop();
        },
      };
    } catch (error) {
      lastError = error; // the ng port was taken between our probe and rtpengine's bind: try another
    }
  }
  dtmfEvents?.stop();
  throw lastError;
}

export function poolFor(endpoints: Array<{ host: string; port: number }>, healthIntervalMs = 1000): RtpenginePool {
  return new RtpenginePool(endpoints, { timeoutMs: 300, retries: 2, healthIntervalMs });
}

let callCounter = 0;

export function newSession(
  pool: RtpenginePool,
  callerKind: LegKind,
  calleeKind: LegKind,
  policy?: Partial<MediaPolicy>,
): MediaSession {
  callCounter += 1;
  return new MediaSession({
    pool,
    callId: `media-test-${process.pid}-${callCounter}-${Date.now()}`,
    caller: { kind: callerKind, tag: `caller-${callCounter}` },
    callee: { kind: calleeKind, tag: `callee-${callCounter}` },
    policy,
  });
}
