/**
 * Transaction timer values (RFC 3261 §17, Table 4). T1/T2/T4 are configurable like
 * drachtio-server's <sip><timers>; every other timer derives from them.
 */
export interface TimerConfig {
  /** RTT estimate, default 500 ms (§17.1.1.1). */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  t2: number;
  /** Maximum duration a message will remain in the network, default 5 s. */
  t4: number;
}

export const DEFAULT_TIMERS: TimerConfig = { t1: 500, t2: 4000, t4: 5000 };

export const timerB = (t: TimerConfig): number => 64 * t.t1; // INVITE client transaction timeout
export const timerD = (t: TimerConfig, reliable: boolean): number => (reliable ? 0 : Math.max(32000, 64 * t.t1)); // wait for response retransmits
export const timerF = (t: TimerConfig): number => 64 * t.t1; // non-INVITE client transaction timeout
export const timerH = (t: TimerConfig): number => 64 * t.t1; // wait for ACK receipt
export const timerI = (t: TimerConfig, reliable: boolean): number => (reliable ? 0 : t.t4); // wait for ACK retransmits
export const timerJ = (t: TimerConfig, reliable: boolean): number => (reliable ? 0 : 64 * t.t1); // wait for request retransmits
export const timerK = (t: TimerConfig, reliable: boolean): number => (reliable ? 0 : t.t4); // wait for response retransmits
/** RFC 6026 §8.4/8.7: Timer L (server, Accepted) and Timer M (client, Accepted). */
export const timerL = (t: TimerConfig): number => 64 * t.t1;
export const timerM = (t: TimerConfig): number => 64 * t.t1;

/** A set of named one-shot timers owned by one state machine, all cleared at once on termination. */
export class TimerSet {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  start(name: string, ms: number, fn: () => void): void {
    this.stop(name);
    const handle = setTimeout(() => {
      this.timers.delete(name);
      fn();
    }, ms);
    this.timers.set(name, handle);
  }

  stop(name: string): void {
    const handle = this.timers.get(name);
    if (handle) {
      clearTimeout(handle);
      this.timers.delete(name);
    }
  }

  has(name: string): boolean {
    return this.timers.has(name);
  }

  clear(): void {
    for (const handle of this.timers.values()) clearTimeout(handle);
    this.timers.clear();
  }
}
