/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2).
 *
 *  Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
 */
import type { SipResponse, SipRequest } from '../sip/message';
import { Transaction, type TransactionChannel } from './transaction';
import { timerF, timerK, type TimerConfig } from './timers';

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface NonInviteClientUser {
  onResponse(res: SipResponse): void;
  /** Timer F fired (§17.1.2.2): the TU reports 408. */
  onTimeout(): void;
  onTransportError(err: unknown): void;
}

export class NonInviteClientTransaction extends Transaction<NonInviteClientState> {
  readonly kind = 'nict' as const;
  state: NonInviteClientState = 'trying';
  private interval: number;

  constructor(txnId: string, key: string, request: SipRequest, channel: TransactionChannel, config: TimerConfig, private readonly user: NonInviteClientUser) {
    super(txnId, key, request, channel, config);
    this.interval = config.t1;
  }

  start(): void {
    this.transmit(this.request);
    if (!this.channel.reliable) this.scheduleTimerE();
    this.timers.start('F', timerF(this.config), () => {
      if (this.state === 'trying' || this.state === 'proceeding') {
        this.terminate();
        this.user.onTimeout();
      }
    });
  }

  /** Timer E: doubling up to T2 while Trying, T2 while Proceeding (§17.1.2.2). */
  private scheduleTimerE(): void {
    this.timers.start('E', this.interval, () => {
      if (this.state !== 'trying' && this.state !== 'proceeding') return;
      this.transmit(this.request);
      this.interval = this.state === 'trying' ? Math.min(2 * this.interval, this.config.t2) : this.config.t2;
      this.scheduleTimerE();
    });
  }

  receiveResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // retransmissions absorbed
    if (res.status < 200) {
      this.state = 'proceeding';
      this.user.onResponse(res);
      return;
    }
    this.state = 'completed';
    this.timers.stop('E');
    this.timers.stop('F');
    this.user.onResponse(res);
    const k = timerK(this.config, this.channel.reliable);
    if (k === 0) this.terminate();
    else this.timers.start('K', k, () => this.terminate());
  }

  protected onTransportError(err: unknown): void {
    if (this.state === 'trying' || this.state === 'proceeding') {
      this.terminate();
      this.user.onTransportError(err);
    }
  }
}
