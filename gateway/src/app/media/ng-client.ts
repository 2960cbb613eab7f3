/**
 * rtpengine ng client over UDP that survives lost datagrams.
 *
 * Why not rtpengine-client: it sends each command exactly once and draws a fresh cookie per send
 * (BaseClient.send_internal), keeps the destination in shared mutable fields (remoteHost/Port are
 * overwritten by every call) and emits 'error' for a reply whose cookie it no longer knows — which
 * is exactly what a retransmission's second reply looks like. None of that can be fixed from outside.
 *
 * The retransmit rule follows rtpengine itself (daemon/control_ng.c + cookie_cache.c): replies are
 * cached by cookie (for 30-60 s), a command whose cookie is in the cache is answered from the cache
 * and NOT executed again, and a duplicate that arrives while the first copy is still being processed
 * waits for that result. So re-sending the identical datagram (same cookie) after `timeoutMs` is
 * safe for every command, including offer and answer: at most one execution, whichever copy and
 * whichever reply gets through. The total wait is timeoutMs × (retries + 1), far below the cache life.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { bdecode, bencode, type BencodeInput } from './bencode';
import {
  describeEndpoint,
  type NgAnswerParams,
  type NgDeleteParams,
  type NgEndpoint,
  type NgListReply,
  type NgOfferParams,
  type NgPlayDtmfParams,
  type NgQueryParams,
  type NgQueryReply,
  type NgReply,
  type NgSdpReply,
  type NgStatisticsReply,
} from './ng-types';
import { createLogger } from '../../logging/logger';

const log = createLogger('ng-client');

const NG_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Largest UDP payload over IPv4; rtpengine reads ng datagrams into a 64 KiB buffer. */
const MAX_DATAGRAM_BYTES = 65_507;
/** rtpengine keeps cached replies for at least 30 s; retransmitting beyond that could execute twice. */
const COOKIE_CACHE_LIFETIME_MS = 30_000;

export interface NgClientOptions {
  /** Wait this long for a reply before re-sending the same datagram. */
  timeoutMs: number;
  /** Re-sends after the first try (0 = send once). */
  retries: number;
  /** Local address to bind (default: any). */
  localAddress?: string;
}

/** No reply after every try: rtpengine is down, unreachable, or overloaded. */
export class NgTimeoutError extends Error {
  constructor(
    readonly endpoint: NgEndpoint,
    readonly command: string,
    readonly attempts: number,
    readonly elapsedMs: number,
  ) {
    super(`rtpengine ${describeEndpoint(endpoint)} did not answer '${command}' (${attempts} tries in ${elapsedMs} ms)`);
    this.name = 'NgTimeoutError';
  }
}

/** rtpengine answered result:'error' (or 'load limit'); `reason` is its error-reason. */
export class NgCommandError extends Error {
  constructor(
    readonly endpoint: NgEndpoint,
    readonly command: string,
    readonly result: string,
    readonly reason: string,
  ) {
    super(`rtpengine ${describeEndpoint(endpoint)} refused '${command}': ${reason}`);
    this.name = 'NgCommandError';
  }
}

interface PendingCommand {
  command: string;
  datagram: Buffer;
  attempts: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
  resolve(reply: NgReply): void;
  reject(error: Error): void;
}

export interface NgClientCounters {
  commands: number;
  retransmissions: number;
  timeouts: number;
  /** Replies for cookies already settled (the answer to a retransmission that was not needed). */
  lateReplies: number;
}

export class NgClient {
  private socket: dgram.Socket | undefined;
  private readonly pending = new Map<string, PendingCommand>();
  private readonly cookiePrefix = randomBytes(6).toString('hex');
  private sequence = 0;
  private closed = false;
  /** When the last reply (of any command) arrived; 0 before the first. The pool uses it to tell a lost datagram from a dead engine. */
  lastReplyAt = 0;
  readonly counters: NgClientCounters = { commands: 0, retransmissions: 0, timeouts: 0, lateReplies: 0 };

  constructor(
    readonly endpoint: NgEndpoint,
    private readonly options: NgClientOptions,
  ) {
    if (options.timeoutMs * (options.retries + 1) >= COOKIE_CACHE_LIFETIME_MS) {
      throw new RangeError('ng timeoutMs × (retries + 1) must stay below 30 s, the life of rtpengine\'s reply cache');
    }
  }

  ping(): Promise<NgReply> {
    return this.command('ping');
  }
  offer(params: NgOfferParams): Promise<NgSdpReply> {
    return this.command<NgSdpReply>('offer', params);
  }
  answer(params: NgAnswerParams): Promise<NgSdpReply> {
    return this.command<NgSdpReply>('answer', params);
  }
  delete(params: NgDeleteParams): Promise<NgQueryReply> {
    return this.command<NgQueryReply>('delete', params);
  }
  query(params: NgQueryParams): Promise<NgQueryReply> {
    return this.command<NgQueryReply>('query', params);
  }
  list(params: { limit?: number } = {}): Promise<NgListReply> {
    return this.command<NgListReply>('list', params);
  }
  playDTMF(params: NgPlayDtmfParams): Promise<NgReply> {
    return this.command('play DTMF', params);
  }
  /** Drops the media packets that participant `from-tag` sends (call-wide without a tag). DTMF still passes. */
  blockMedia(params: { 'call-id': string; 'from-tag'?: string; flags?: string[] }): Promise<NgReply> {
    return this.command('block media', params);
  }
  unblockMedia(params: { 'call-id': string; 'from-tag'?: string; flags?: string[] }): Promise<NgReply> {
    return this.command('unblock media', params);
  }
  statistics(): Promise<NgStatisticsReply> {
    return this.command<NgStatisticsReply>('statistics');
  }

  /**
   * Sends one ng command and resolves with rtpengine's reply dictionary. Re-sends the identical
   * datagram after timeoutMs, up to `retries` times; rejects with NgTimeoutError after the last
   * try, NgCommandError when rtpengine answers result:'error'.
   */
  command<R extends NgReply = NgReply>(
    command: string,
    params: { readonly [key: string]: BencodeInput | undefined } = {},
  ): Promise<R> {
    if (this.closed) return Promise.reject(new Error('ng client is closed'));
    const cookie = `${this.cookiePrefix}_${(this.sequence++).toString(36)}`;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `), bencode({ ...params, command })]);
    if (datagram.length > MAX_DATAGRAM_BYTES) {
      return Promise.reject(new Error(`ng '${command}' is ${datagram.length} bytes, too large for one UDP datagram`));
    }
    this.counters.commands += 1;
    return new Promise<R>((resolve, reject) => {
      const entry: PendingCommand = {
        command,
        datagram,
        attempts: 0,
        startedAt: Date.now(),
        timer: undefined,
        resolve: resolve as (reply: NgReply) => void,
        reject,
      };
      this.pending.set(cookie, entry);
      this.transmit(cookie, entry);
    });
  }

  /** Pending commands still waiting for a reply (for tests and metrics). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Rejects whatever is pending and releases the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [cookie, entry] of this.pending) this.settle(cookie, entry, new Error('ng client closed'));
    this.socket?.close();
    this.socket = undefined;
  }

  private transmit(cookie: string, entry: PendingCommand): void {
    entry.attempts += 1;
    if (entry.attempts > 1) {
      this.counters.retransmissions += 1;
      log.debug({ rtpengine: describeEndpoint(this.endpoint), command: entry.command, cookie, attempt: entry.attempts }, 'ng retransmit');
    }
    let socket: dgram.Socket;
    try {
      socket = this.ensureSocket();
    } catch (error) {
      this.settle(cookie, entry, error as Error);
      return;
    }
    socket.send(entry.datagram, this.endpoint.port, this.endpoint.host, (error) => {
      // a failed send (EMSGSIZE, unreachable network) is treated like a lost datagram: the timer retries
      if (error) log.debug({ err: error.message, command: entry.command }, 'ng send failed');
    });
    entry.timer = setTimeout(() => this.onTimeout(cookie), this.options.timeoutMs);
  }

  private onTimeout(cookie: string): void {
    const entry = this.pending.get(cookie);
    if (!entry) return;
    entry.timer = undefined;
    if (entry.attempts <= this.options.retries) {
      this.transmit(cookie, entry);
      return;
    }
    this.counters.timeouts += 1;
    this.settle(cookie, entry, new NgTimeoutError(this.endpoint, entry.command, entry.attempts, Date.now() - entry.startedAt));
  }

  private settle(cookie: string, entry: PendingCommand, outcome: NgReply | Error): void {
    if (entry.timer) clearTimeout(entry.timer);
    this.pending.delete(cookie);
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome);
  }

  private ensureSocket(): dgram.Socket {
    if (this.socket) return this.socket;
    const socket = dgram.createSocket(isIPv6(this.endpoint.host) ? 'udp6' : 'udp4');
    socket.on('message', (message, remote) => this.onMessage(message, remote));
    socket.on('error', (error) => {
      log.warn({ err: error.message, rtpengine: describeEndpoint(this.endpoint) }, 'ng socket error; reopening');
      if (this.socket === socket) this.socket = undefined;
      socket.close();
    });
    // Hundreds of commands can be in flight under load: the default 208 KiB receive buffer then
    // overflows with rtpengine's replies (each loss costs a retransmission timeout). 4 MiB, as the
    // engine's SIP socket; the kernel caps it at net.core.rmem_max.
    socket.once('listening', () => {
      try {
        socket.setRecvBufferSize(NG_RECEIVE_BUFFER_BYTES);
      } catch (error) {
        log.debug({ err: (error as Error).message }, 'ng socket receive buffer left at the default');
      }
    });
    socket.bind({ port: 0, address: this.options.localAddress });
    this.socket = socket;
    return socket;
  }

  private onMessage(message: Buffer, remote: dgram.RemoteInfo): void {
    const space = message.indexOf(0x20);
    if (space <= 0) {
      log.warn({ from: `${remote.address}:${remote.port}` }, 'ng datagram without cookie ignored');
      return;
    }
    this.lastReplyAt = Date.now();
    const cookie = message.toString('latin1', 0, space);
    const entry = this.pending.get(cookie);
    if (!entry) {
      this.counters.lateReplies += 1;
      log.debug({ cookie }, 'ng reply for a settled command (answer to a retransmission) ignored');
      return;
    }
    let reply: NgReply;
    try {
      const decoded = bdecode(message, space + 1);
      if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw new SyntaxError('reply is not a dictionary');
      reply = decoded as unknown as NgReply;
    } catch (error) {
      this.settle(cookie, entry, new Error(`malformed ng reply to '${entry.command}': ${(error as Error).message}`));
      return;
    }
    if (reply.result === 'error' || reply.result === 'load limit') {
      const reason = reply['error-reason'] ?? reply.result;
      this.settle(cookie, entry, new NgCommandError(this.endpoint, entry.command, String(reply.result), String(reason)));
      return;
    }
    if (reply.warning) log.debug({ command: entry.command, warning: reply.warning }, 'ng warning');
    this.settle(cookie, entry, reply);
  }
}
