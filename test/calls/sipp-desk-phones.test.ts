/**
 * Static desk phone to static desk phone with real SIPp (issue point 1). The callee is a SIPp UAS
 * that answers PCMA and echoes every RTP packet back (-rtp_echo); the caller is either SIPp's
 * uac_pcap (plays g711a.pcap, 236 PCMA packets, and an RFC 2833 digit) or a raw UDP phone that
 * sends PCMA and counts the echo. Both callers are configured phones, trusted by source address.
 * rtpengine's per-participant counters prove audio crossed it in both directions.
 */
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { audioEndpoint } from '../../gateway/src/app/media/sdp-policy';
import { startSipp, type SippProcess } from '../harness/sipp';
import { statusOf } from '../engine/engine-fixture';
import { freeUdpPort, rtpengineMissing } from '../media/rtpengine-fixture';
import { freeMediaPort, sippWorkdir, sleep, startCallStack, until, watchPackets, type CallStack } from './call-fixture';
import { bodyOf, isResponse, type SipPhone } from './sip-phone';

const sippMissing = !existsSync('/usr/bin/sipp') || !existsSync('/usr/share/sip-tester/g711a.pcap');

/** SIPp UAS: 180, 200 with PCMA + telephone-event (matching what the callers offer), then waits for BYE. */
const UAS_ECHO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="PCMA UAS for -rtp_echo">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sippecho 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-11,16

    ]]>
  </send>
  <recv request="ACK" optional="true" rtd="true" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="500"/>
</scenario>
`;

describe.skipIf(rtpengineMissing || sippMissing)('desk phone to desk phone with SIPp', () => {
  let stack: CallStack;
  let desk1: SipPhone;
  let work: ReturnType<typeof sippWorkdir>;
  const ports = { caller: 0, echo: 0 };
  const running: SippProcess[] = [];

  beforeAll(async () => {
    ports.caller = await freeUdpPort();
    ports.echo = await freeUdpPort();
    work = sippWorkdir({ 'uas_echo.xml': UAS_ECHO });
    stack = await startCallStack({
      phones: ['desk1'],
      staticPhones: [
        { username: 'sippcaller', uri: `sip:sippcaller@127.0.0.1:${ports.caller}` },
        { username: 'sippecho', uri: `sip:sippecho@127.0.0.1:${ports.echo}` },
      ],
    });
    desk1 = stack.phones.desk1!;
  });
  afterEach(async () => {
    desk1.rtp.stopAudio();
    for (const sipp of running.splice(0)) await sipp.stop();
    await stack.assertClean();
    await stack.resetPhones();
  });
  afterAll(async () => {
    for (const sipp of running.splice(0)) await sipp.stop();
    await stack?.stop();
    work?.remove();
  });

  async function startEcho(): Promise<SippProcess> {
    const uas = startSipp({
      scenario: { file: `${work.dir}/uas_echo.xml` },
      localIp: '127.0.0.1',
      localPort: ports.echo,
      mediaPort: await freeMediaPort(),
      controlPort: await freeUdpPort(),
      calls: 1,
      timeoutSec: 60,
      extraArgs: ['-rtp_echo'],
      cwd: work.dir,
    });
    running.push(uas);
    // SIPp is ready once its SIP port is bound
    await until(() => udpPortIsTaken(ports.echo), (taken) => taken, 10_000, 'SIPp UAS listening');
    return uas;
  }

  it('SIPp uac_pcap -> gateway -> SIPp UAS with -rtp_echo: audio crosses rtpengine both ways; BYE ends it all', async () => {
    const uas = await startEcho();
    const watch = watchPackets(stack);
    const uac = startSipp({
      scenario: { builtin: 'uac_pcap' },
      target: `127.0.0.1:${stack.gatewayPort}`,
      localIp: '127.0.0.1',
      localPort: ports.caller,
      mediaPort: await freeMediaPort(),
      controlPort: await freeUdpPort(),
      calls: 1,
      timeoutSec: 60,
      extraArgs: ['-s', 'sippecho'],
      cwd: work.dir,
    });
    running.push(uac);
    await until(() => stack.app.calls.size, (n) => n === 1, 15_000, 'call answered');
    const [callResult, echoResult] = await Promise.all([uac.result, uas.result]);
    const seen = await watch.stop();
    expect(callResult.exitCode, callResult.output.slice(-2000)).toBe(0);
    expect(echoResult.exitCode, echoResult.output.slice(-2000)).toBe(0);
    const calls = Object.entries(seen);
    expect(calls).toHaveLength(1);
    const perTag = Object.values(calls[0]![1]);
    expect(perTag).toHaveLength(2);
    // caller's tag: the pcap (236 PCMA + 10 RFC 2833); callee's tag: the same packets echoed back
    for (const packets of perTag) expect(packets).toBeGreaterThan(100);
    console.log(`uac_pcap through rtpengine: packets received per participant ${JSON.stringify(calls[0]![1])}`);
    await stack.assertClean();
  });

  it('raw phone sending PCMA -> gateway -> SIPp echo: the caller hears its own audio from rtpengine\'s address', async () => {
    const uas = await startEcho();
    desk1.invite('sippecho', { sdp: desk1.rtp.sdp({ payloadTypes: [8, 101] }) });
    await desk1.next(isResponse(180));
    const ok = await desk1.final();
    expect(statusOf(ok)).toBe(200);
    const rtpengine = audioEndpoint(bodyOf(ok));
    expect(rtpengine.payloadTypes[0]).toBe(8);
    const [callId] = await stack.list();
    await desk1.rtp.sendAudio(150, 20, 8); // 3 s of PCMA
    await sleep(300);
    const query = await stack.query(callId!);
    const echoed = desk1.rtp.count(0, 8);
    expect(echoed).toBeGreaterThan(100);
    expect(new Set(desk1.rtp.received.map((p) => p.from))).toEqual(new Set([`${rtpengine.address}:${rtpengine.port}`]));
    const perTag = Object.values(query.tags ?? {}).map((t) => (t.medias ?? []).reduce((s, m) => s + (m.streams?.[0]?.stats?.packets ?? 0), 0));
    expect(perTag).toHaveLength(2);
    for (const packets of perTag) expect(packets).toBeGreaterThan(100);
    console.log(`raw caller: sent 150 PCMA, heard ${echoed} back; rtpengine received per participant ${JSON.stringify(perTag)}`);

    expect(statusOf(await desk1.transact('BYE'))).toBe(200);
    const echoResult = await uas.result; // the UAS got its BYE and finished its one call
    expect(echoResult.exitCode, echoResult.output.slice(-2000)).toBe(0);
    await stack.assertClean();
  });
});

/** True once something has bound this UDP port on 127.0.0.1. */
function udpPortIsTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(true));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(false)));
  });
}
