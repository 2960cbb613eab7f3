/**
 * A UDP relay between an ng client and rtpengine that loses datagrams on purpose: the first copy of
 * every command (by cookie) going to rtpengine, or the first reply to every command coming back.
 */
import dgram from 'node:dgram';

export type LossMode = 'first-request' | 'first-reply';

export class LossyUdpProxy {
  readonly dropped: string[] = [];
  readonly forwardedRequests: string[] = [];
  private client: { address: string; port: number } | undefined;
  private readonly seenRequests = new Set<string>();
  private readonly seenReplies = new Set<string>();

  private constructor(
    private readonly front: dgram.Socket,
    private readonly back: dgram.Socket,
    private readonly target: { host: string; port: number },
    private readonly mode: LossMode,
  ) {
    front.on('message', (message, from) => this.fromClient(message, from));
    back.on('message', (message) => this.fromServer(message));
  }

  /** Listens on 127.0.0.1 (see `port`) and relays to `target` from a second socket. */
  static async start(target: { host: string; port: number }, mode: LossMode): Promise<LossyUdpProxy> {
    const bind = (): Promise<dgram.Socket> =>
      new Promise((resolve, reject) => {
        const socket = dgram.createSocket('udp4');
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => resolve(socket));
      });
    return new LossyUdpProxy(await bind(), await bind(), target, mode);
  }

  get port(): number {
    return this.front.address().port;
  }

  private static cookieOf(message: Buffer): string {
    const space = message.indexOf(0x20);
    return space > 0 ? message.toString('latin1', 0, space) : '';
  }

  private fromClient(message: Buffer, from: dgram.RemoteInfo): void {
    this.client = { address: from.address, port: from.port };
    const cookie = LossyUdpProxy.cookieOf(message);
    if (this.mode === 'first-request' && !this.seenRequests.has(cookie)) {
      this.seenRequests.add(cookie);
      this.dropped.push(`request ${cookie}`);
      return;
    }
    this.forwardedRequests.push(cookie);
    this.back.send(message, this.target.port, this.target.host);
  }

  private fromServer(message: Buffer): void {
    const cookie = LossyUdpProxy.cookieOf(message);
    if (this.mode === 'first-reply' && !this.seenReplies.has(cookie)) {
      this.seenReplies.add(cookie);
      this.dropped.push(`reply ${cookie}`);
      return;
    }
    if (this.client) this.front.send(message, this.client.port, this.client.address);
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}
