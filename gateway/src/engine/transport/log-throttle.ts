/**
 * Keeps hostile traffic from turning into a log flood: warnings about bad peers go out at most
 * once per interval per kind, with the number of lines suppressed in between.
 */

export class LogThrottle {
  private readonly state = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 1_000) {}

  /**
   * undefined when this line should be suppressed; otherwise how many lines of that kind were
   * suppressed since the last one that went out (to include in the log record).
   */
  admit(kind: string, now = Date.now()): number | undefined {
    const s = this.state.get(kind);
    if (!s) {
      this.state.set(kind, { at: now, suppressed: 0 });
      return 0;
    }
    if (now - s.at < this.intervalMs) {
      s.suppressed++;
      return undefined;
    }
    const suppressed = s.suppressed;
    s.at = now;
    s.suppressed = 0;
    return suppressed;
  }
}

/** One throttle for the transport layer's peer-caused warnings (kinds are few and fixed). */
export const peerWarnings = new LogThrottle();
