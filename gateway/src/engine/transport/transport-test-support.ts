/**
 * Helpers for the colocated transport tests (real sockets on loopback only). Plain Node, no
 * test-framework imports, so it type-checks with the rest of the source.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import type { InboundMessage } from './types';
import type { TransportLayer } from './transport-layer';

/** A SIP request with a correct Content-Length (the bytes the tests compare against). */
export function sipRequest(method: string, opts: { body?: string; callId?: string; lengthHeader?: string } = {}): Buffer {
  const body = opts.body ?? '';
  const lengthHeader = opts.lengthHeader ?? 'Content-Length';
  const text =
    `${method} sip:bob@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-${Math.random().toString(36).slice(2)}\r\n` +
    `From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n` +
    `Call-ID: ${opts.callId ?? Math.random().toString(36).slice(2)}\r\nCSeq: 1 ${method}\r\n` +
    `${lengthHeader}: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return Buffer.from(text);
}

export function sipResponse(status = '200 OK', body = ''): Buffer {
  return Buffer.from(
    `SIP/2.0 ${status}\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-1\r\nCall-ID: r1\r\nCSeq: 1 INVITE\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Collects every message the layer delivers; `next(n)` waits until n have arrived. */
export class MessageCollector {
  readonly messages: InboundMessage[] = [];
  private consumed = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(layer: TransportLayer) {
    layer.onMessage((m) => {
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (this.messages.length < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** The next `count` messages not yet returned by next(), waiting for them if needed. */
  async next(count = 1, timeoutMs = 5_000): Promise<InboundMessage[]> {
    const from = this.consumed;
    this.consumed += count;
    await this.waitForTotal(from + count, timeoutMs);
    return this.messages.slice(from, from + count);
  }

  waitForTotal(n: number, timeoutMs = 5_000): Promise<void> {
    if (this.messages.length >= n) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} messages, have ${this.messages.length}`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

export function connectRaw(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Accumulates everything a socket receives; `until(pred)` waits for it. */
export class ByteSink {
  data = Buffer.alloc(0);
  closed = false;
  private listeners: Array<() => void> = [];

  constructor(emitter: { on(ev: 'data', fn: (d: Buffer) => void): unknown; on(ev: 'close', fn: () => void): unknown }) {
    emitter.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.notify();
    });
    emitter.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  until(pred: (sink: ByteSink) => boolean, timeoutMs = 5_000): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred(this)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      const timer = setTimeout(() => reject(new Error(`timed out; have ${this.data.length} bytes, closed=${this.closed}`)), timeoutMs);
      this.listeners.push(check);
    });
  }
}

export async function waitFor(cond: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A throwaway self-signed certificate for 127.0.0.1 / localhost; `cleanup()` removes it. */
export function makeSelfSignedCert(): { dir: string; keyFile: string; certFile: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'transport-tls-'));
  const keyFile = join(dir, 'k.pem');
  const certFile = join(dir, 'c.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { dir, keyFile, certFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
