/**
 * Two real rtpengines behind one RtpenginePool: calls spread and stay pinned, a dead engine is
 * skipped for new calls (at once when a call's first offer times out, and by the health pings),
 * NoMediaServerError comes quickly when none answers, and nothing is left behind.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RtpPhone, sleep } from './rtp-phone';
import { newSession, rtpengineMissing, startTestRtpengine, type TestRtpengine } from './rtpengine-fixture';
import { NgTimeoutError } from '../../gateway/src/app/media/ng-client';
import { NoMediaServerError, RtpenginePool } from '../../gateway/src/app/media/rtpengine-pool';
import type { MediaSession } from '../../gateway/src/app/media/media-session';
import { RtpengineProcess } from '../../gateway/src/services/rtpengine-process';

const TIMEOUT_MS = 200;
const RETRIES = 1;
const HEALTH_INTERVAL_MS = 400;

function processAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(rtpengineMissing)('rtpengine pool with two real engines', () => {
  let first: TestRtpengine;
  let second: TestRtpengine;
  let restarted: RtpengineProcess | undefined;
  let pool: RtpenginePool;
  let phone: RtpPhone;

  beforeAll(async () => {
    [first, second] = await Promise.all([startTestRtpengine(), startTestRtpengine()]);
    pool = new RtpenginePool([first.endpoint, second.endpoint], {
      timeoutMs: TIMEOUT_MS,
      retries: RETRIES,
      healthIntervalMs: HEALTH_INTERVAL_MS,
    });
    await pool.start();
    phone = await RtpPhone.open('pool-phone');
  });

  afterAll(async () => {
    pool?.stop();
    phone?.close();
    await Promise.all([first?.stop(), second?.stop(), restarted?.stop()]);
  });

  async function placeCall(): Promise<MediaSession> {
    const session = newSession(pool, 'legacy', 'legacy');
    await session.offer('caller', phone.sdp());
    await session.answer('callee', phone.sdp());
    return session;
  }

  it('keeps an engine that answered other commands while one command went unanswered (a lost reply, not a dead engine)', async () => {
    const node = pool.nodes[0]!;
    await node.client.list(); // a reply now
    const waited = TIMEOUT_MS * (RETRIES + 1);
    pool.reportFailure(node, new NgTimeoutError(node.endpoint, 'offer', RETRIES + 1, waited));
    expect(node.healthy).toBe(true);
    expect(node.commandTimeouts).toBe(1);
    // No reply since the command was first sent (here: a command that was sent just now; the
    // health pings every 400 ms count as replies too): that engine is taken out of rotation ...
    await sleep(5);
    pool.reportFailure(node, new NgTimeoutError(node.endpoint, 'offer', RETRIES + 1, 0));
    expect(node.healthy).toBe(false);
    // ... until a health ping gets an answer.
    await sleep(HEALTH_INTERVAL_MS + TIMEOUT_MS * (RETRIES + 1) + 100);
    expect(node.healthy).toBe(true);
  });

  it('fails over, refuses with NoMediaServerError when none answers, and leaves nothing behind', async () => {
    const idOf = (engine: TestRtpengine): string => `${engine.endpoint.host}:${engine.endpoint.port}`;
    expect(pool.metrics().healthyEngines).toBe(2);

    // calls spread over both engines (fewest active calls first) and stay pinned
    const early = [await placeCall(), await placeCall(), await placeCall(), await placeCall()];
    const perEngine = pool.metrics().engines.map((engine) => engine.activeCalls);
    expect(perEngine).toEqual([2, 2]);
    const onFirst = early.filter((session) => session.engineId === idOf(first));
    expect(onFirst).toHaveLength(2);

    // the first engine dies; the very next call fails over inside its own first offer
    await first.process.stop();
    const failedOver = await placeCall();
    expect(failedOver.engineId).toBe(idOf(second));
    const firstMetrics = pool.metrics().engines.find((engine) => engine.id === idOf(first))!;
    expect(firstMetrics.healthy).toBe(false);

    // and once the health ping has seen it, new calls go straight to the survivor
    await sleep(HEALTH_INTERVAL_MS + TIMEOUT_MS * (RETRIES + 1) + 100);
    const started = Date.now();
    const direct = await placeCall();
    expect(direct.engineId).toBe(idOf(second));
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS); // no detour through the dead engine

    // calls pinned to the dead engine still end cleanly (delete never throws)
    for (const session of onFirst) await expect(session.delete()).resolves.toBeUndefined();

    // the second engine dies too, before any health ping noticed: bounded by timeout × tries
    await second.process.stop();
    let started2 = Date.now();
    const refused = await newSession(pool, 'legacy', 'legacy')
      .offer('caller', phone.sdp())
      .catch((error: unknown) => error);
    let elapsed = Date.now() - started2;
    expect(refused).toBeInstanceOf(NoMediaServerError);
    expect((refused as NoMediaServerError).retryAfterSeconds).toBe(1);
    expect(elapsed).toBeLessThan(TIMEOUT_MS * (RETRIES + 1) + 300);

    // with both known down, refusal is immediate
    started2 = Date.now();
    await expect(newSession(pool, 'legacy', 'legacy').offer('caller', phone.sdp())).rejects.toBeInstanceOf(NoMediaServerError);
    elapsed = Date.now() - started2;
    expect(elapsed).toBeLessThan(50);
    expect(pool.metrics().noMediaServerRejections).toBe(2);

    // end every remaining call: nothing is counted, nothing is in flight, no daemon is left
    for (const session of [...early, failedOver, direct]) await session.delete();
    const metrics = pool.metrics();
    expect(metrics.activeCalls).toBe(0);
    expect(metrics.healthyEngines).toBe(0);
    // only a health ping may still be waiting for a dead engine; no call command is left pending
    for (const node of pool.nodes) expect(node.client.inFlight).toBeLessThanOrEqual(1);
    expect(processAlive(first.process.pid)).toBe(false);
    expect(processAlive(second.process.pid)).toBe(false);

    // an engine that comes back on the same ng port is used again after a health ping
    const portMin = 2 * randomInt(15_000, 29_000);
    restarted = new RtpengineProcess({
      interface: '127.0.0.1',
      ngHost: second.endpoint.host,
      ngPort: second.endpoint.port,
      portMin,
      portMax: portMin + 399,
    });
    await restarted.start();
    await sleep(HEALTH_INTERVAL_MS + 200);
    expect(pool.metrics().healthyEngines).toBe(1);
    const revived = await placeCall();
    expect(revived.engineId).toBe(idOf(second));
    await revived.delete();
    expect((await pool.nodes[1]!.client.list()).calls).toEqual([]);
  });
});
