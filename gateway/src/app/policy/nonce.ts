/**
 * Digest nonces (RFC 7616 §3.3, §5.4-5.5) and nonce-count replay protection (RFC 7616 §3.4,
 * §5.5 "nc").
 *
 * Scheme: self-validating nonces. nonce = base64url(issued-at ms, 8 bytes | 8 random bytes)
 * followed by base64url(HMAC-SHA-256(key, realm ":" payload))[0..16 bytes]. The key is random
 * per process, so the server keeps no state for nonces it hands out (a flood of 401s costs no
 * memory) and a forged or altered nonce fails the MAC. After a restart old nonces fail the MAC
 * and clients get a stale=true challenge, which they answer without asking their user.
 *
 * Replay: the only state is, for nonces that were actually used in a successful
 * authentication, the highest nc accepted so far. A request must carry a strictly greater nc,
 * so every (nonce, nc) pair is accepted once. Entries die with their nonce (TTL). Memory is
 * capped: when the table is full the oldest entry is evicted and every nonce issued up to that
 * one is refused from then on (treated as expired), so eviction can never re-open a replay.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type NonceStatus = 'valid' | 'expired' | 'invalid';

export interface NonceManagerOptions {
  realm: string;
  ttlSeconds: number;
  /** Most used nonces remembered for nc tracking (default 100 000). */
  maxTracked?: number;
  /** Clock, for tests. */
  now?: () => number;
}

const PAYLOAD_BYTES = 16;
const MAC_BYTES = 16;
/** A client clock is irrelevant (we issued the timestamp), but allow for our own clock steps. */
const FUTURE_SKEW_MS = 5_000;

interface Tracked {
  lastNc: number;
  issuedAt: number;
}

export class NonceManager {
  readonly ttlMs: number;
  private readonly key = randomBytes(32);
  private readonly realm: string;
  private readonly maxTracked: number;
  private readonly now: () => number;
  private readonly used = new Map<string, Tracked>();
  /** Nonces issued at or before this instant are refused (see eviction above). */
  private floorIssuedAt = -Infinity;
  private readonly sweeper: NodeJS.Timeout;
  readonly opaque: string;

  constructor(opts: NonceManagerOptions) {
    this.realm = opts.realm;
    this.ttlMs = opts.ttlSeconds * 1000;
    this.maxTracked = opts.maxTracked ?? 100_000;
    this.now = opts.now ?? Date.now;
    // opaque (RFC 7616 §3.3): constant per process and realm; a client must echo it.
    this.opaque = this.mac(`opaque:${this.realm}`).toString('base64url');
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(this.ttlMs, 60_000)));
    this.sweeper.unref();
  }

  issue(): string {
    const payload = Buffer.alloc(PAYLOAD_BYTES);
    payload.writeBigUInt64BE(BigInt(this.now()), 0);
    randomBytes(8).copy(payload, 8);
    return payload.toString('base64url') + this.mac(payload.toString('base64url')).toString('base64url');
  }

  /** Is this a nonce we issued (MAC), and is it still within its lifetime? */
  check(nonce: string): NonceStatus {
    const issuedAt = this.issuedAt(nonce);
    if (issuedAt === undefined) return 'invalid';
    const age = this.now() - issuedAt;
    if (age < -FUTURE_SKEW_MS) return 'invalid';
    if (age > this.ttlMs || issuedAt <= this.floorIssuedAt) return 'expired';
    return 'valid';
  }

  /**
   * Record nc for a nonce that just passed check() and a correct digest. True when the pair is
   * new (nc above every nc accepted for this nonce), false for a replay or an out-of-order nc.
   */
  acceptNonceCount(nonce: string, nc: number): boolean {
    const t = this.used.get(nonce);
    if (t) {
      if (nc <= t.lastNc) return false;
      t.lastNc = nc;
      return true;
    }
    const issuedAt = this.issuedAt(nonce);
    if (issuedAt === undefined || issuedAt <= this.floorIssuedAt) return false;
    if (this.used.size >= this.maxTracked) this.evictOldest();
    this.used.set(nonce, { lastNc: nc, issuedAt });
    return true;
  }

  get trackedCount(): number {
    return this.used.size;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.used.clear();
  }

  private issuedAt(nonce: string): number | undefined {
    // 16 payload bytes and 16 MAC bytes are 22 base64url characters each.
    if (nonce.length !== 44 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const payloadText = nonce.slice(0, 22);
    const mac = Buffer.from(nonce.slice(22), 'base64url');
    const expected = this.mac(payloadText);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    return Number(Buffer.from(payloadText, 'base64url').readBigUInt64BE(0));
  }

  private mac(data: string): Buffer {
    return createHmac('sha256', this.key).update(`${this.realm}:${data}`).digest().subarray(0, MAC_BYTES);
  }

  private evictOldest(): void {
    const first = this.used.entries().next();
    if (first.done) return;
    const [nonce, t] = first.value;
    this.used.delete(nonce);
    this.floorIssuedAt = Math.max(this.floorIssuedAt, t.issuedAt);
  }

  private sweep(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [nonce, t] of this.used) if (t.issuedAt < cutoff) this.used.delete(nonce);
  }
}
