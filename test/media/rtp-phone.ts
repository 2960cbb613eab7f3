/**
 * A "legacy phone" for media tests: one loopback UDP socket that writes a plain RTP/AVP SDP, sends
 * 20 ms PCMU packets (12-byte header, PT 0, 160 bytes) or RFC 4733 telephone-events to wherever
 * rtpengine told it to, and records every packet it receives (with arrival time) to count later.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { audioEndpoint } from '../../gateway/src/app/media/sdp-policy';

export interface ReceivedRtp {
  pt: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  from: string;
  at: number;
}

export interface PhoneSdpOptions {
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** Payload types to list (default PCMU + telephone-event). */
  payloadTypes?: number[];
  telephoneEventPt?: number;
  sessionVersion?: number;
}

export function parseRtp(message: Buffer): Omit<ReceivedRtp, 'from' | 'at'> | undefined {
  if (message.length < 12 || message[0]! >> 6 !== 2) return undefined;
  const csrcCount = message[0]! & 0x0f;
  const headerLength = 12 + 4 * csrcCount;
  return {
    pt: message[1]! & 0x7f,
    marker: (message[1]! & 0x80) !== 0,
    seq: message.readUInt16BE(2),
    timestamp: message.readUInt32BE(4),
    ssrc: message.readUInt32BE(8),
    payload: message.subarray(headerLength),
  };
}

export class RtpPhone {
  readonly received: ReceivedRtp[] = [];
  private remote: { address: string; port: number } | undefined;
  private seq = randomInt(0, 0xffff);
  private timestamp = randomInt(0, 0xffffffff);
  private readonly ssrc = randomInt(1, 0xffffffff);
  private audioTimer: NodeJS.Timeout | undefined;
  private sessionVersion = 1;

  private constructor(
    readonly name: string,
    private readonly socket: dgram.Socket,
    readonly port: number,
  ) {
    socket.on('message', (message, info) => {
      const rtp = parseRtp(message);
      if (rtp) this.received.push({ ...rtp, from: `${info.address}:${info.port}`, at: Date.now() });
    });
  }

  /** Binds an even port on 127.0.0.1 (RTP convention; rtcp would be port+1). */
  static async open(name: string): Promise<RtpPhone> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = 2 * randomInt(20_000, 29_000);
      const socket = dgram.createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(port, '127.0.0.1', () => resolve(true));
      });
      if (ok) return new RtpPhone(name, socket, port);
      socket.close();
    }
    throw new Error('no free even UDP port for a test phone');
  }

  /** The phone's own SDP (offer or answer). */
  sdp(options: PhoneSdpOptions = {}): string {
    const te = options.telephoneEventPt ?? 101;
    const pts = options.payloadTypes ?? [0, te];
    const version = options.sessionVersion ?? this.sessionVersion++;
    const lines = [
      'v=0',
      `o=${this.name} 1000 ${version} IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${pts.join(' ')}`,
    ];
    if (pts.includes(0)) lines.push('a=rtpmap:0 PCMU/8000');
    if (pts.includes(8)) lines.push('a=rtpmap:8 PCMA/8000');
    if (pts.includes(te)) lines.push(`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-16`);
    lines.push('a=ptime:20', `a=${options.direction ?? 'sendrecv'}`, '');
    return lines.join('\r\n');
  }

  /** Sends media where `sdp` (rtpengine's SDP for this phone) says. */
  useRemoteSdp(sdp: string): void {
    const endpoint = audioEndpoint(sdp);
    this.remote = { address: endpoint.address, port: endpoint.port };
  }

  get remoteEndpoint(): { address: string; port: number } | undefined {
    return this.remote;
  }

  private send(pt: number, payload: Buffer, marker = false, timestamp = this.timestamp): void {
    if (!this.remote) throw new Error(`${this.name} has no remote endpoint yet`);
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = (marker ? 0x80 : 0) | pt;
    header.writeUInt16BE(this.seq, 2);
    header.writeUInt32BE(timestamp >>> 0, 4);
    header.writeUInt32BE(this.ssrc >>> 0, 8);
    this.seq = (this.seq + 1) & 0xffff;
    this.socket.send(Buffer.concat([header, payload]), this.remote.port, this.remote.address);
  }

  private sendAudioPacket(pt = 0): void {
    this.send(pt, Buffer.alloc(160, pt === 8 ? 0xd5 : 0xff));
    this.timestamp = (this.timestamp + 160) >>> 0;
  }

  /** `count` G.711 packets (PT 0 PCMU or 8 PCMA), 20 ms apart; resolves after the last one. */
  async sendAudio(count: number, intervalMs = 20, pt = 0): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.sendAudioPacket(pt);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /** Continuous 20 ms PCMU until stopAudio(). */
  startAudio(): void {
    if (this.audioTimer) return;
    this.audioTimer = setInterval(() => this.sendAudioPacket(), 20);
  }

  stopAudio(): void {
    if (this.audioTimer) clearInterval(this.audioTimer);
    this.audioTimer = undefined;
  }

  /**
   * One RFC 4733 digit as a phone sends it: a marker packet, updates every 20 ms with a growing
   * duration, then three end packets, all with the event's start timestamp.
   */
  async sendDigit(pt: number, event: number, durationMs = 200, volume = 10): Promise<void> {
    const start = this.timestamp;
    const steps = Math.max(1, Math.round(durationMs / 20));
    for (let i = 1; i <= steps; i++) {
      const payload = Buffer.from([event, volume & 0x3f, 0, 0]);
      payload.writeUInt16BE(i * 160, 2);
      this.send(pt, payload, i === 1, start);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (let i = 0; i < 3; i++) {
      const payload = Buffer.from([event, 0x80 | (volume & 0x3f), 0, 0]);
      payload.writeUInt16BE(steps * 160, 2);
      this.send(pt, payload, false, start);
    }
    this.timestamp = (start + steps * 160) >>> 0;
  }

  /** Packets received since `since` (ms timestamp), optionally of one payload type. */
  count(since = 0, pt?: number): number {
    return this.received.filter((packet) => packet.at >= since && (pt === undefined || packet.pt === pt)).length;
  }

  close(): void {
    this.stopAudio();
    this.socket.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
