/**
 * The ng client: bencode, errors as exceptions, and surviving lost datagrams against a real
 * rtpengine through a relay that drops the first request or the first reply of every command.
 * rtpengine's cookie cache must make a retransmitted offer execute once (statistics offer count).
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bdecode, bencode } from '../../gateway/src/app/media/bencode';
import { NgClient, NgCommandError, NgTimeoutError } from '../../gateway/src/app/media/ng-client';
import { LossyUdpProxy, type LossMode } from './lossy-udp-proxy';
import { RtpPhone } from './rtp-phone';
import { rtpengineMissing, startTestRtpengine, type TestRtpengine } from './rtpengine-fixture';

describe('bencode', () => {
  it('round-trips the shapes ng uses, with sorted keys and UTF-8 strings', () => {
    const value = { sdp: 'v=0\r\ns=é\r\n', flags: ['strip extmap', 'inject DTMF'], codec: { mask: ['opus'] }, n: -42, z: 0 };
    const encoded = bencode(value);
    expect(encoded.toString('latin1').startsWith('d5:codecd4:maskl4:opusee5:flagsl')).toBe(true);
    expect(bdecode(encoded)).toEqual(value);
  });

  it('skips undefined members and rejects what bencode cannot carry', () => {
    expect(bencode({ a: 1, b: undefined }).toString()).toBe('d1:ai1ee');
    expect(() => bencode({ x: 1.5 })).toThrow(/integers/);
    expect(() => bencode({ x: true as unknown as number })).toThrow(/cannot encode/);
  });

  it('rejects malformed input instead of guessing', () => {
    expect(() => bdecode(Buffer.from('d3:abc'))).toThrow(SyntaxError);
    expect(() => bdecode(Buffer.from('5:abc'))).toThrow(SyntaxError);
    expect(() => bdecode(Buffer.from('i1ei2e'))).toThrow(/trailing/);
    expect(() => bdecode(Buffer.from('di1ei2ee'))).toThrow(/key is not a string/);
  });
});

describe('ng client timeouts', () => {
  it('retransmits the identical datagram and gives up after timeout × (retries + 1)', async () => {
    const silent = dgram.createSocket('udp4');
    const seen: Buffer[] = [];
    silent.on('message', (message) => seen.push(message));
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const client = new NgClient({ host: '127.0.0.1', port: silent.address().port }, { timeoutMs: 100, retries: 2 });
    const started = Date.now();
    const error = await client.ping().catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(NgTimeoutError);
    expect((error as NgTimeoutError).attempts).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(800);
    expect(seen).toHaveLength(3);
    expect(seen[1]!.equals(seen[0]!)).toBe(true); // same cookie, same bytes
    expect(seen[2]!.equals(seen[0]!)).toBe(true);
    expect(client.counters).toMatchObject({ commands: 1, retransmissions: 2, timeouts: 1 });
    client.close();
    silent.close();
  });

  it('refuses settings that would outlive rtpengine\'s 30 s reply cache', () => {
    expect(() => new NgClient({ host: '127.0.0.1', port: 9 }, { timeoutMs: 10_000, retries: 2 })).toThrow(/30 s/);
  });
});

describe.skipIf(rtpengineMissing)('ng client against a real rtpengine', () => {
  let engine: TestRtpengine;

  beforeAll(async () => {
    engine = await startTestRtpengine();
  });
  afterAll(async () => {
    await engine?.stop();
  });

  async function executedOffers(): Promise<number> {
    const client = new NgClient(engine.endpoint, { timeoutMs: 500, retries: 1 });
    const stats = await client.statistics();
    client.close();
    const control = stats.statistics?.controlstatistics as { totaloffercount?: number } | undefined;
    return Number(control?.totaloffercount);
  }

  it('surfaces result:error as NgCommandError with rtpengine\'s error-reason', async () => {
    const client = new NgClient(engine.endpoint, { timeoutMs: 500, retries: 1 });
    const error = await client.offer({ sdp: 'not an sdp', 'call-id': 'broken', 'from-tag': 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NgCommandError);
    expect((error as NgCommandError).reason).toBe('Failed to parse SDP');
    // a delete of an unknown call is ok with a warning, not an error
    await expect(client.delete({ 'call-id': 'never-existed', 'from-tag': 'x' })).resolves.toMatchObject({ result: 'ok' });
    client.close();
  });

  for (const mode of ['first-request', 'first-reply'] as LossMode[]) {
    it(`completes offer/answer/query/delete when the ${mode === 'first-request' ? 'first copy of each command' : 'first reply to each command'} is lost, executing the offer once`, async () => {
      const proxy = await LossyUdpProxy.start(engine.endpoint, mode);
      const client = new NgClient({ host: '127.0.0.1', port: proxy.port }, { timeoutMs: 150, retries: 2 });
      const alice = await RtpPhone.open('alice');
      const bob = await RtpPhone.open('bob');
      const callId = `lossy-${mode}-${Date.now()}`;
      const offersBefore = await executedOffers();
      try {
        const offer = await client.offer({ sdp: alice.sdp(), 'call-id': callId, 'from-tag': 'alice-tag', ICE: 'remove' });
        expect(offer.sdp).toContain('m=audio ');
        const answer = await client.answer({ sdp: bob.sdp(), 'call-id': callId, 'from-tag': 'alice-tag', 'to-tag': 'bob-tag', ICE: 'remove' });
        expect(answer.sdp).toContain('m=audio ');

        expect(await executedOffers()).toBe(offersBefore + 1);
        const list = await client.list();
        expect(list.calls.filter((id) => id === callId)).toHaveLength(1);
        const query = await client.query({ 'call-id': callId });
        expect(Object.keys(query.tags ?? {}).sort()).toEqual(['alice-tag', 'bob-tag']);

        await client.delete({ 'call-id': callId, 'from-tag': 'alice-tag' });
        expect((await client.list()).calls).not.toContain(callId);
        // every command lost one datagram and was retransmitted exactly once
        expect(proxy.dropped.length).toBe(client.counters.commands);
        expect(client.counters.retransmissions).toBe(client.counters.commands);
        if (mode === 'first-reply') {
          expect(engine.process.recentOutput()).toMatch(/as a duplicate/);
        }
      } finally {
        client.close();
        proxy.close();
        alice.close();
        bob.close();
      }
    });
  }
});
