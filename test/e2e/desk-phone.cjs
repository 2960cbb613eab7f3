// A raw desk phone for the DTMF end-to-end test, run inside the test's network namespace:
//
//   ip netns exec NS node desk-phone.cjs '{"sipPort":5082,"rtpPort":40000}'
//
// SIP: a minimal UDP UAS. It answers an INVITE at once (100, 200 with PCMU plus the
// telephone-event/8000 payload type the offer used, at 127.0.0.1:rtpPort), retransmits the 200
// until the ACK, answers BYE/INFO/OPTIONS/re-INVITE with 200.
// RTP: sends PCMU (160 bytes of 0xFF every 20 ms) to the address of the offer, like a real phone
// (rtpengine plays injected DTMF paced by the audio it relays), and counts what arrives by payload
// type. Every RFC 4733 packet is reported as a JSON line on stdout:
//   {"type":"dtmf","event":5,"end":false,"volume":10,"duration":160,"pt":126,"seq":..,"ts":..}
// Other lines: {"type":"ready"}, {"type":"invite","offer":"..."}, {"type":"ack"}, {"type":"bye"},
// {"type":"request","method":"INFO","contentType":"application/dtmf-relay","body":"..."} for other
// requests, and {"type":"stats","received":{"0":123,"126":16},"sent":200} in reply to "stats".
//
// Commands on stdin, one a line:
//   stats                 the stats line above
//   digit <event> [ms]    sends one RFC 4733 event (default 200 ms) with the telephone-event PT of
//                         the call, as a phone does (RFC 4733 §2.5): audio paused, a first packet
//                         with the marker bit, one every 20 ms with the same timestamp and a growing
//                         duration, then three end packets (E bit); reports {"type":"digit-sent",...}
//   recv-info <list>      puts "Recv-Info: <list>" in the next 200s (e.g. dtmf: ask for DTMF as
//                         SIP INFO, RFC 6086); "recv-info off" stops it
'use strict';
const dgram = require('node:dgram');
const readline = require('node:readline');

const { sipPort, rtpPort } = JSON.parse(process.argv[2] || '{}');
const HOST = '127.0.0.1';
const sip = dgram.createSocket('udp4');
const rtp = dgram.createSocket('udp4');
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const received = {};
let sent = 0;
let rtpTimer;
let recvInfo = ''; // Recv-Info value for our 200s ('' = none)
// RTP sender state (shared by audio and telephone-events: one stream, one SSRC)
const ssrc = 0x0dec0de5;
let seq = 1;
let ts = 0;
let rtpDest; // { address, port }
let inEvent = false;
let dialog; // { callId, response200, ackTimer, remote: {address, port}, te }

function headers(msg) {
  const [head, ...rest] = msg.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const map = new Map();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!map.has(name)) map.set(name, []);
    map.get(name).push(line.slice(i + 1).trim());
  }
  return { start: lines[0], map, body: rest.join('\r\n\r\n') };
}

function response(req, status, reason, extra = [], body = '') {
  const h = req.map;
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const v of h.get('via') || []) lines.push(`Via: ${v}`);
  lines.push(`From: ${h.get('from')[0]}`);
  const to = h.get('to')[0];
  lines.push(`To: ${/;\s*tag=/.test(to) ? to : `${to};tag=desk${process.pid}`}`);
  lines.push(`Call-ID: ${h.get('call-id')[0]}`, `CSeq: ${h.get('cseq')[0]}`, ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

function answerSdp(offer) {
  const te = /^a=rtpmap:(\d+) telephone-event\/8000/im.exec(offer);
  const pts = te ? `0 ${te[1]}` : '0';
  const lines = ['v=0', `o=desk ${process.pid} 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0', `m=audio ${rtpPort} RTP/AVP ${pts}`, 'a=rtpmap:0 PCMU/8000'];
  if (te) lines.push(`a=rtpmap:${te[1]} telephone-event/8000`, `a=fmtp:${te[1]} 0-16`);
  lines.push('a=ptime:20', 'a=sendrecv', '');
  return { sdp: lines.join('\r\n'), te: te ? Number(te[1]) : undefined };
}

function sendRtp(pt, marker, timestamp, payload) {
  if (!rtpDest) return;
  const packet = Buffer.alloc(12 + payload.length);
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | pt;
  packet.writeUInt16BE(seq & 0xffff, 2);
  seq = (seq + 1) & 0xffff;
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(ssrc, 8);
  payload.copy(packet, 12);
  rtp.send(packet, rtpDest.port, rtpDest.address);
  sent += 1;
}

function startRtp(address, port) {
  clearInterval(rtpTimer);
  rtpDest = { address, port };
  rtpTimer = setInterval(() => {
    if (inEvent) return; // the event's packets take the audio's place
    sendRtp(0, false, ts, Buffer.alloc(160, 0xff)); // PCMU silence-ish
    ts += 160;
  }, 20);
}

/** One RFC 4733 event (§2.5.1): marker first, same timestamp throughout, growing duration, 3 end packets. */
function sendDigit(event, durationMs, volume = 10) {
  if (!dialog || dialog.te === undefined || !rtpDest) {
    out({ type: 'digit-failed', event, reason: 'no call with telephone-event' });
    return;
  }
  if (inEvent) {
    out({ type: 'digit-failed', event, reason: 'an event is being sent' });
    return;
  }
  inEvent = true;
  const pt = dialog.te;
  const start = ts;
  const steps = Math.max(1, Math.round(durationMs / 20));
  const total = steps + 3;
  let i = 0;
  const payload = (end, duration) => {
    const b = Buffer.alloc(4);
    b[0] = event;
    b[1] = (end ? 0x80 : 0) | (volume & 0x3f);
    b.writeUInt16BE(Math.min(duration, 0xffff), 2);
    return b;
  };
  const timer = setInterval(() => {
    i += 1;
    if (i <= steps) sendRtp(pt, i === 1, start, payload(false, i * 160));
    else sendRtp(pt, false, start, payload(true, steps * 160));
    if (i === total) {
      clearInterval(timer);
      ts = start + total * 160; // audio goes on where the wall clock is
      inEvent = false;
      out({ type: 'digit-sent', event, durationMs: steps * 20, pt });
    }
  }, 20);
}

rtp.on('message', (packet) => {
  if (packet.length < 12) return;
  const pt = packet[1] & 0x7f;
  received[pt] = (received[pt] || 0) + 1;
  if (dialog && dialog.te !== undefined && pt === dialog.te && packet.length >= 16) {
    const cc = packet[0] & 0x0f;
    const p = 12 + 4 * cc;
    out({
      type: 'dtmf',
      pt,
      event: packet[p],
      end: (packet[p + 1] & 0x80) !== 0,
      volume: packet[p + 1] & 0x3f,
      duration: packet.readUInt16BE(p + 2),
      seq: packet.readUInt16BE(2),
      ts: packet.readUInt32BE(4),
    });
  }
});

sip.on('message', (buf, rinfo) => {
  const text = buf.toString('latin1');
  if (text.startsWith('SIP/2.0')) return; // we send no requests
  const req = headers(text);
  const method = req.start.split(' ')[0];
  const send = (s) => sip.send(Buffer.from(s, 'latin1'), rinfo.port, rinfo.address);
  const callId = (req.map.get('call-id') || [''])[0];
  if (method === 'INVITE') {
    if (dialog && dialog.callId === callId && dialog.response200 && !dialog.acked && !/;\s*tag=/.test(req.map.get('to')[0])) {
      send(dialog.response200); // retransmitted INVITE
      return;
    }
    const c = /^c=IN IP4 (\S+)/m.exec(req.body);
    const m = /^m=audio (\d+)/m.exec(req.body);
    const { sdp, te } = answerSdp(req.body);
    send(response(req, 100, 'Trying'));
    const extra = [`Contact: <sip:dtmfdesk@${HOST}:${sipPort}>`, ...(recvInfo ? [`Recv-Info: ${recvInfo}`] : []), 'Content-Type: application/sdp'];
    const ok = response(req, 200, 'OK', extra, sdp);
    const reinvite = dialog && dialog.callId === callId;
    if (!reinvite) out({ type: 'invite', offer: req.body });
    dialog = { ...(dialog || {}), callId, response200: ok, acked: false, te: te ?? dialog?.te };
    send(ok);
    let wait = 500;
    const retransmit = () => {
      if (!dialog || dialog.acked || dialog.response200 !== ok) return;
      send(ok);
      wait = Math.min(wait * 2, 4000);
      dialog.ackTimer = setTimeout(retransmit, wait);
    };
    dialog.ackTimer = setTimeout(retransmit, wait);
    if (c && m) startRtp(c[1], Number(m[1]));
  } else if (method === 'ACK') {
    if (dialog && dialog.callId === callId) {
      dialog.acked = true;
      clearTimeout(dialog.ackTimer);
    }
    out({ type: 'ack' });
  } else if (method === 'BYE') {
    send(response(req, 200, 'OK'));
    clearInterval(rtpTimer);
    if (dialog) clearTimeout(dialog.ackTimer);
    dialog = undefined;
    out({ type: 'bye' });
  } else if (method === 'CANCEL') {
    send(response(req, 200, 'OK'));
  } else {
    send(response(req, 200, 'OK'));
    out({ type: 'request', method, contentType: (req.map.get('content-type') || [''])[0], infoPackage: (req.map.get('info-package') || [undefined])[0], body: req.body });
  }
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, ...args] = line.trim().split(/\s+/);
  if (command === 'stats') out({ type: 'stats', received, sent });
  else if (command === 'digit') sendDigit(Number(args[0]), Number(args[1] || 200));
  else if (command === 'recv-info') recvInfo = args[0] === 'off' ? '' : args.join(' ');
});
process.on('SIGTERM', () => process.exit(0));

let bound = 0;
const ready = () => {
  bound += 1;
  if (bound === 2) out({ type: 'ready' });
};
sip.bind(sipPort, HOST, ready);
rtp.bind(rtpPort, HOST, ready);
