/**
 * One connected drachtio-srf application (drachtio-protocol §1, §3): authentication, route
 * registration and ping are handled here; `sip` and `proxy` commands go to the engine core.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { createLogger } from '../../logging/logger';
import { FrameDecoder, FrameError } from './framing';
import { no, ok, splitPayload } from './wire';

const log = createLogger('control');

export interface AppCommand {
  app: AppConnection;
  msgId: string;
  tokens: string[];
  sip: string;
}

export interface AppConnectionInfo {
  secret: string;
  hostports: string;
  localHostports: string;
  version: string;
}

let nextId = 1;

export class AppConnection extends EventEmitter {
  readonly id = `app-${nextId++}`;
  authenticated = false;
  tags: string[] = [];
  readonly routes = new Set<string>();
  closed = false;
  private readonly decoder = new FrameDecoder();

  constructor(
    private readonly socket: Socket,
    private readonly info: AppConnectionInfo,
    private readonly onCommand: (cmd: AppCommand) => void,
  ) {
    super();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => log.info({ app: this.id, err: err.message }, 'app socket error'));
    socket.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  private corked = false;

  /**
   * One frame (§1.2). Frames written in the same event-loop turn leave in one writev: the socket
   * is corked on the first and uncorked in the turn's check phase (setImmediate), after every
   * datagram and segment the poll phase read (libuv reads up to 32 datagrams per UDP socket per
   * turn). One syscall per burst instead of per frame, and fewer reads for the app.
   */
  send(payload: string): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(`${Buffer.byteLength(payload, 'utf8')}#${payload}`, 'utf8');
  }

  close(): void {
    this.closed = true;
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    let payloads: string[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (err) {
      log.warn({ app: this.id, remote: this.remote, err: (err as FrameError).message }, 'corrupt frame from app, closing');
      this.socket.destroy();
      return;
    }
    for (const payload of payloads) {
      try {
        this.onPayload(payload);
      } catch (err) {
        log.error({ app: this.id, err: (err as Error).stack }, 'error handling app message');
      }
    }
  }

  private onPayload(payload: string): void {
    const { tokens, sip } = splitPayload(payload);
    const msgId = tokens[0] ?? '';
    const type = tokens[1];
    if (!this.authenticated && type !== 'authenticate') {
      this.send(no(msgId, 'not authenticated'));
      this.close();
      return;
    }
    switch (type) {
      case 'authenticate':
        return this.authenticate(msgId, tokens);
      case 'route':
        this.routes.add((tokens[2] ?? '').toLowerCase());
        this.emit('routes-changed');
        return this.send(ok(msgId));
      case 'remove_route':
        this.routes.delete((tokens[2] ?? '').toLowerCase());
        this.emit('routes-changed');
        return this.send(ok(msgId));
      case 'ping':
        return this.send(ok(msgId, 'pong'));
      case 'sip':
      case 'proxy':
        return this.onCommand({ app: this, msgId, tokens, sip });
      default:
        log.warn({ app: this.id, type }, 'unknown message type from app, closing');
        this.send(no(msgId, 'Unknown message type'));
        this.close();
    }
  }

  private authenticate(msgId: string, tokens: string[]): void {
    if ((tokens[2] ?? '') !== this.info.secret) {
      log.warn({ remote: this.remote }, 'app failed to authenticate: incorrect secret');
      this.send(no(msgId, 'incorrect secret'));
      this.close();
      return;
    }
    this.authenticated = true;
    this.tags = (tokens[3] ?? '').split(',').filter(Boolean);
    this.send(ok(msgId, this.info.hostports, this.info.version, this.info.localHostports));
    log.info({ app: this.id, remote: this.remote, tags: this.tags }, 'app connected');
    this.emit('authenticated');
  }
}
