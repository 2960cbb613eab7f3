/**
 * Mutated real SIP messages thrown at the engine over UDP, TCP and WebSocket. The engine must
 * never crash or wedge: after each barrage a valid request on a fresh flow is still answered,
 * and no transactions or pending requests pile up beyond what the valid traffic explains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Srf from 'drachtio-srf';
import { connectApp, request, startEngine, statusOf, tcpPeer, udpPeer, waitFor, wsPeer, type RunningEngine } from './engine-fixture';
import { prng } from '../harness/prng';


const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n';

function seeds(port: number, proto: string): string[] {
  return [
    request('INVITE', { port, proto, body: SDP }),
    request('REGISTER', { port, proto, extra: 'Expires: 3600\r\nAuthorization: Digest username="a", realm="r", nonce="n", uri="sip:x", response="0123"\r\n' }),
    request('OPTIONS', { port, proto }),
    request('BYE', { port, proto, toTag: 'abc' }),
    request('SUBSCRIBE', { port, proto, extra: 'Event: presence\r\nExpires: 60\r\n' }),
    `SIP/2.0 200 OK\r\nVia: SIP/2.0/${proto} 127.0.0.1:${port};branch=z9hG4bKnope\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`,
  ];
}

const NASTY = ['\0', '\r', '\n', ':', ';', ',', '<', '>', '"', '\\', '%', ' ', '\t', '=', '@', '\u00ff', 'SIP/2.0', '\r\n\r\n', 'Content-Length: 99999', 'Via: ', 'z9hG4bK'];

export function mutate(msg: string, rnd: () => number): string {
  let s = msg;
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const pos = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: // flip a byte
        s = s.slice(0, pos) + String.fromCharCode(Math.floor(rnd() * 256)) + s.slice(pos + 1);
        break;
      case 1: // truncate
        s = s.slice(0, pos);
        break;
      case 2: // insert something nasty
        s = s.slice(0, pos) + NASTY[Math.floor(rnd() * NASTY.length)] + s.slice(pos);
        break;
      case 3: { // duplicate a header line
        const lines = s.split('\r\n');
        const k = 1 + Math.floor(rnd() * Math.max(1, lines.length - 2));
        lines.splice(k, 0, lines[k] ?? '');
        s = lines.join('\r\n');
        break;
      }
      case 4: // huge value
        s = s.slice(0, pos) + 'x'.repeat(Math.floor(rnd() * 70000)) + s.slice(pos);
        break;
      case 5: // delete a range
        s = s.slice(0, pos) + s.slice(pos + Math.floor(rnd() * 40));
        break;
      default: // random bytes
        s = s.slice(0, pos) + Array.from({ length: Math.floor(rnd() * 30) }, () => String.fromCharCode(Math.floor(rnd() * 256))).join('') + s.slice(pos);
    }
  }
  return s;
}

let running: RunningEngine;
let srf: Srf;

beforeAll(async () => {
  // Some mutants parse for the engine but not for drachtio-srf, which then never answers them:
  // the engine forgets such requests after the pending timeout (64 s by default, 2 s here).
  running = await startEngine({ pendingRequestTimeoutMs: 2000 });
  srf = await connectApp(running.engine);
  srf.use('invite', (_req, res) => res.send(486));
  srf.use('subscribe', (_req, res) => res.send(489));
  for (const m of ['register', 'options', 'message', 'info', 'notify', 'publish']) srf.use(m, (_req, res) => res.send(200));
});

afterAll(async () => {
  srf.disconnect();
  await running.stop();
});

/** A valid OPTIONS on a fresh socket, retransmitted like a real UAC (UDP may drop under load). */
async function stillAnswersUdp(): Promise<void> {
  const peer = await udpPeer(running.port('udp'));
  const probe = request('OPTIONS', { port: peer.port });
  const timer = setInterval(() => peer.send(probe), 500);
  peer.send(probe);
  try {
    expect(statusOf(await peer.next((m) => statusOf(m) >= 200, 8000))).toBe(200);
  } finally {
    clearInterval(timer);
    peer.close();
  }
}

describe('fuzzing the engine', () => {
  it('survives 3000 mutated datagrams over UDP', async () => {
    const rnd = prng(0x5eed);
    const peer = await udpPeer(running.port('udp'));
    const base = seeds(peer.port, 'UDP');
    for (let i = 0; i < 3000; i++) {
      const m = mutate(base[i % base.length], rnd);
      peer.send(Buffer.from(m.slice(0, 65000), 'latin1'));
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await stillAnswersUdp();
    peer.close();
  });

  it('survives 300 mutated messages over TCP, each on its own connection', async () => {
    const rnd = prng(0xbeef);
    for (let i = 0; i < 300; i++) {
      const peer = await tcpPeer(running.port('tcp'));
      const base = seeds(peer.port, 'TCP');
      peer.send(mutate(base[i % base.length], rnd));
      if (i % 3 === 0) peer.close();
      else setTimeout(() => peer.close(), 20);
    }
    const peer = await tcpPeer(running.port('tcp'));
    peer.send(request('OPTIONS', { port: peer.port, proto: 'TCP' }));
    expect(statusOf(await peer.next((m) => statusOf(m) >= 200, 3000))).toBe(200);
    peer.close();
    await stillAnswersUdp();
  });

  it('survives 500 mutated WebSocket frames', async () => {
    const rnd = prng(0xc0ffee);
    const peer = await wsPeer(running.port('ws'));
    const base = seeds(0, 'WS');
    for (let i = 0; i < 500; i++) peer.send(mutate(base[i % base.length], rnd).slice(0, 65000));
    peer.close();
    const fresh = await wsPeer(running.port('ws'));
    fresh.send(request('OPTIONS', { port: 0, proto: 'WS' }));
    expect(statusOf(await fresh.next((m) => statusOf(m) >= 200, 3000))).toBe(200);
    fresh.close();
  });

  it('lets every transaction the fuzz created run out', async () => {
    // Timer J/H with T1 = 50 ms are 3.2 s: afterwards nothing may be left pending.
    const e = running.engine;
    await waitFor(() => e.incoming.size === 0 && e.dialogs.size === 0, 8000, `pending requests drained (${JSON.stringify(e.stats())} ${[...e.incoming.values()].map((p) => `${p.req.method}/${p.txn.state}/${p.app ? 'app' : 'noapp'}`).join(',')})`);
    await waitFor(() => running.engine.txns.size.server === 0, 8000, 'server transactions drained');
  });
});
