// A minimal rtpengine ng client for the bench's own questions to rtpengine (ping, list,
// statistics). Deliberately independent of the gateway's ng client: the bench must not trust the
// code it measures to count what that code left behind. Bencode over UDP, "cookie dict".
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

function bencode(value) {
  if (typeof value === 'number') return Buffer.from(`i${Math.trunc(value)}e`);
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const b = Buffer.isBuffer(value) ? value : Buffer.from(value);
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(value)) return Buffer.concat([Buffer.from('l'), ...value.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(value[k])]), Buffer.from('e')]);
}

function bdecode(buf, start = 0) {
  let i = start;
  const parse = () => {
    const c = buf[i];
    if (c === 0x69) {
      const end = buf.indexOf(0x65, i);
      const n = Number(buf.toString('latin1', i + 1, end));
      i = end + 1;
      return n;
    }
    if (c === 0x6c || c === 0x64) {
      i += 1;
      const list = [];
      while (buf[i] !== 0x65) list.push(parse());
      i += 1;
      if (c === 0x6c) return list;
      const dict = {};
      for (let k = 0; k < list.length; k += 2) dict[list[k]] = list[k + 1];
      return dict;
    }
    const colon = buf.indexOf(0x3a, i);
    const len = Number(buf.toString('latin1', i, colon));
    const s = buf.toString('utf8', colon + 1, colon + 1 + len);
    i = colon + 1 + len;
    return s;
  };
  return parse();
}

/**
 * Sends one ng command and resolves with the reply dictionary. Re-sends the same datagram (same
 * cookie: rtpengine answers a repeated cookie from its cache) every `timeoutMs`, `tries` times.
 */
export function ngCommand({ host = '127.0.0.1', port }, command, params = {}, { timeoutMs = 500, tries = 4 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const cookie = randomBytes(6).toString('hex');
    const datagram = Buffer.concat([Buffer.from(`${cookie} `), bencode({ ...params, command })]);
    let attempts = 0;
    let timer;
    const finish = (err, reply) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply);
    };
    const send = () => {
      if (attempts++ >= tries) {
        finish(new Error(`rtpengine ${host}:${port} did not answer '${command}' (${tries} tries)`));
        return;
      }
      socket.send(datagram, port, host);
      timer = setTimeout(send, timeoutMs);
    };
    socket.on('message', (msg) => {
      const space = msg.indexOf(0x20);
      if (msg.toString('latin1', 0, space) !== cookie) return;
      try {
        finish(undefined, bdecode(msg, space + 1));
      } catch (err) {
        finish(err);
      }
    });
    socket.on('error', (err) => finish(err));
    socket.bind(0, '127.0.0.1', send);
  });
}

/**
 * What rtpengine still holds: `list` (call-ids, up to 100000) and `statistics` (sessions own/total).
 * { calls, callIds (first 5), all (every call-id), sessionsOwn, sessionsTotal } or { error }.
 */
export async function rtpengineSessions(ng) {
  try {
    const list = await ngCommand(ng, 'list', { limit: 100000 });
    const stats = await ngCommand(ng, 'statistics');
    const current = stats?.statistics?.currentstatistics ?? {};
    const calls = Array.isArray(list?.calls) ? list.calls : [];
    return { calls: calls.length, callIds: calls.slice(0, 5), all: calls, sessionsOwn: current.sessionsown, sessionsTotal: current.sessionstotal };
  } catch (err) {
    return { error: String(err.message ?? err) };
  }
}
