/**
 * Retransmits one message over an unreliable transport with an interval starting at T1 and
 * doubling (capped at `cap`), until stopped or until `giveUpAfter` ms pass.
 * Used for a UAS's 2xx to INVITE (RFC 3261 §13.3.1.4) and reliable provisionals (RFC 3262 §3).
 */
export class Retransmitter {
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private interval: number;
  private stopped = false;

  constructor(
    private readonly resend: () => void,
    t1: number,
    private readonly cap: number,
    giveUpAfter: number,
    private readonly onGiveUp: () => void,
    retransmit: boolean,
  ) {
    this.interval = t1;
    if (retransmit) this.schedule();
    this.deadline = setTimeout(() => {
      if (this.stopped) return;
      this.stop();
      this.onGiveUp();
    }, giveUpAfter);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.resend();
      this.interval = Math.min(this.interval * 2, this.cap);
      this.schedule();
    }, this.interval);
  }

  get active(): boolean {
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.deadline) clearTimeout(this.deadline);
  }
}
