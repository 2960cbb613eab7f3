/**
 * INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1).
 *
 *  Proceeding --300-699--> Completed --ACK--> Confirmed --Timer I--> Terminated
 *      |                       +--Timer H--> Terminated (no ACK)
 *      +--2xx--> Accepted --Timer L--> Terminated
 *
 * In Accepted the 2xx is retransmitted by the TU (the dialog, §13.3.1.4), not here.
 */
import type { SipRequest, SipResponse } from '../sip/message';
import { Transaction, type TransactionChannel } from './transaction';
import { timerH, timerI, timerL, type TimerConfig } from './timers';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface InviteServerUser {
  /** Timer H fired with no ACK for a non-2xx final (§17.2.1). */
  onNoAck?(): void;
  onTransportError(err: unknown): void;
}

export class InviteServerTransaction extends Transaction<InviteServerState> {
  readonly kind = 'ist' as const;
  state: InviteServerState = 'proceeding';
  lastResponse?: SipResponse;
  finalResponse?: SipResponse;
  private interval: number;

  constructor(txnId: string, key: string, request: SipRequest, channel: TransactionChannel, config: TimerConfig, private readonly user: InviteServerUser) {
    super(txnId, key, request, channel, config);
    this.interval = config.t1;
  }

  /** Send a response from the TU (§17.2.1). Returns false when the state forbids it. */
  respond(res: SipResponse): boolean {
    if (this.state !== 'proceeding') return false;
    this.lastResponse = res;
    if (res.status < 200) {
      this.transmit(res);
      return true;
    }
    this.finalResponse = res;
    this.transmit(res);
    if (res.status < 300) {
      this.state = 'accepted';
      this.timers.start('L', timerL(this.config), () => this.terminate());
      return true;
    }
    this.state = 'completed';
    if (!this.channel.reliable) this.scheduleTimerG();
    this.timers.start('H', timerH(this.config), () => {
      if (this.state !== 'completed') return;
      this.terminate();
      this.user.onNoAck?.();
    });
    return true;
  }

  /** Timer G: retransmit the non-2xx final, doubling up to T2 (§17.2.1). */
  private scheduleTimerG(): void {
    this.timers.start('G', this.interval, () => {
      if (this.state !== 'completed' || !this.finalResponse) return;
      this.transmit(this.finalResponse);
      this.interval = Math.min(2 * this.interval, this.config.t2);
      this.scheduleTimerG();
    });
  }

  /** A retransmitted INVITE: resend the most recent response (§17.2.1). */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  /** ACK matching this transaction (non-2xx case). Returns true when absorbed. */
  receiveAck(): boolean {
    if (this.state === 'completed') {
      this.state = 'confirmed';
      this.timers.stop('G');
      this.timers.stop('H');
      const i = timerI(this.config, this.channel.reliable);
      if (i === 0) this.terminate();
      else this.timers.start('I', i, () => this.terminate());
      return true;
    }
    return this.state === 'confirmed';
  }

  protected onTransportError(err: unknown): void {
    if (this.state === 'terminated') return;
    this.terminate();
    this.user.onTransportError(err);
  }
}
