/**
 * A call's rtpengine session is deleted however the call ends, even when the delete's replies are
 * lost (an overloaded engine, a full socket buffer): the pool tries again in the background. Real
 * rtpengine, reached through a relay that swallows every reply while told to.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaSession } from '../../gateway/src/app/media/media-session';
import { RtpenginePool } from '../../gateway/src/app/media/rtpengine-pool';
import { RtpPhone, sleep } from './rtp-phone';
import { newSession, rtpengineMissing, startTestRtpengine, type TestRtpengine } from './rtpengine-fixture';

/** UDP relay client <-> rtpengine whose replies can be dropped. */
class ReplyDropper {
  dropping = false;
  dropped = 0;
  private client: dgram.RemoteInfo | undefined;

  private constructor(
    private readonly front: dgram.Socket,
    private readonly back: dgram.Socket,
    target: { host: string; port: number },
  ) {
    front.on('message', (m, from) => {
      this.client = from;
      back.send(m, target.port, target.host);
    });
    back.on('message', (m) => {
      if (this.dropping) this.dropped += 1;
      else if (this.client) front.send(m, this.client.port, this.client.address);
    });
  }

  static async start(target: { host: string; port: number }): Promise<ReplyDropper> {
    const bind = () =>
      new Promise<dgram.Socket>((resolve) => {
        const s = dgram.createSocket('udp4');
        s.bind(0, '127.0.0.1', () => resolve(s));
      });
    return new ReplyDropper(await bind(), await bind(), target);
  }

  get port(): number {
    return this.front.address().port;
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}

describe.skipIf(rtpengineMissing)('rtpengine delete that gets no reply', () => {
  let engine: TestRtpengine;
  let relay: ReplyDropper;
  let pool: RtpenginePool;
  let direct: RtpenginePool;
  let phone: RtpPhone;

  beforeAll(async () => {
    engine = await startTestRtpengine();
    relay = await ReplyDropper.start(engine.endpoint);
    pool = new RtpenginePool([{ host: '127.0.0.1', port: relay.port }], { timeoutMs: 200, retries: 1, healthIntervalMs: 60_000 });
    await pool.start();
    direct = new RtpenginePool([engine.endpoint], { timeoutMs: 500, retries: 1, healthIntervalMs: 60_000 });
    await direct.start();
    phone = await RtpPhone.open('delete-retry');
  });

  afterAll(async () => {
    pool?.stop();
    direct?.stop();
    phone?.close();
    relay?.close();
    await engine?.stop();
  });

  it('a call that ends while its first offer is in flight leaves no session (the offer\'s reply came late)', async () => {
    const session = newSession(pool, 'legacy', 'legacy');
    const list = async () => (await direct.nodes[0]!.client.list()).calls;
    relay.dropping = true;
    const dropped = relay.dropped;
    const offering = session.offer('caller', phone.sdp());
    offering.catch(() => undefined); // awaited below
    while (relay.dropped === dropped) await sleep(5); // rtpengine made the session; its reply is lost
    await session.delete(); // nothing pinned yet: there is nothing to delete so far
    relay.dropping = false; // the retransmitted offer gets its reply (rtpengine answers a duplicate)
    await expect(offering).rejects.toThrow(/deleted while its first offer was in flight/);
    for (let i = 0; i < 40 && (await list()).includes(session.callId); i++) await sleep(50);
    expect(await list()).not.toContain(session.callId);
  });

  it('is tried again in the background until rtpengine confirms, and the session is gone', async () => {
    const session = newSession(pool, 'legacy', 'legacy');
    await session.offer('caller', phone.sdp());
    await session.answer('callee', phone.sdp());
    const list = async () => (await direct.nodes[0]!.client.list()).calls;
    expect(await list()).toEqual([session.callId]);

    relay.dropping = true;
    await session.delete(); // resolves (never throws) after 2 unanswered tries
    expect(relay.dropped).toBeGreaterThanOrEqual(1); // rtpengine did get it and answered: lost
    // rtpengine executed the first delete already; what matters is that a lost reply is retried
    // and nothing is left. Make the engine hold the call again under the same id, as if the first
    // datagram had been lost instead, and let the background retry (2 s) remove it.
    relay.dropping = false;
    const again = new MediaSession({ pool: direct, callId: session.callId, caller: { kind: 'legacy', tag: 'again-a' }, callee: { kind: 'legacy' } });
    await again.offer('caller', phone.sdp());
    expect(await list()).toEqual([session.callId]);
    await sleep(2_600);
    expect(await list()).toEqual([]);
  });
});
