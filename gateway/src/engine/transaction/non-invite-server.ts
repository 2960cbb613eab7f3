/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2).
 *
 *  Trying --1xx--> Proceeding --200-699--> Completed --Timer J--> Terminated
 */
import type { SipResponse, SipRequest } from '../sip/message';
import { Transaction, type TransactionChannel } from './transaction';
import { timerJ, type TimerConfig } from './timers';

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteServerTransaction extends Transaction<NonInviteServerState> {
  readonly kind = 'nist' as const;
  state: NonInviteServerState = 'trying';
  lastResponse?: SipResponse;

  constructor(txnId: string, key: string, request: SipRequest, channel: TransactionChannel, config: TimerConfig, private readonly onError: (err: unknown) => void = () => {}) {
    super(txnId, key, request, channel, config);
  }

  respond(res: SipResponse): boolean {
    if (this.state === 'completed' || this.state === 'terminated') return false;
    this.lastResponse = res;
    this.transmit(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return true;
    }
    this.state = 'completed';
    const j = timerJ(this.config, this.channel.reliable);
    if (j === 0) this.terminate();
    else this.timers.start('J', j, () => this.terminate());
    return true;
  }

  /** Retransmitted request: resend the last response if any (§17.2.2). */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  protected onTransportError(err: unknown): void {
    if (this.state === 'terminated') return;
    this.terminate();
    this.onError(err);
  }
}
