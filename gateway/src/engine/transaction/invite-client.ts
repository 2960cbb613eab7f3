/**
 * INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of RFC 6026 §7.2).
 *
 *  Calling --1xx--> Proceeding --300-699--> Completed --Timer D--> Terminated
 *     |                 |
 *     +----2xx----------+--> Accepted --Timer M--> Terminated
 */
import { SipRequest, type SipResponse } from '../sip/message';
import { Transaction, type TransactionChannel } from './transaction';
import { timerB, timerD, timerM, type TimerConfig } from './timers';

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface InviteClientUser {
  /** Every response the TU must see: each provisional, the first final, and (Accepted) each 2xx. */
  onResponse(res: SipResponse, retransmission: boolean): void;
  /** Timer B fired before any final response (§17.1.1.2): the TU reports 408. */
  onTimeout(): void;
  onTransportError(err: unknown): void;
}

export class InviteClientTransaction extends Transaction<InviteClientState> {
  readonly kind = 'ict' as const;
  state: InviteClientState = 'calling';
  private ack?: SipRequest;
  private interval: number;
  /** Final response status once one arrived. */
  finalStatus?: number;
  /** Set when the first provisional arrives; CANCEL waits for it (§9.1). */
  private provisionalWaiters: Array<() => void> = [];
  gotProvisional = false;

  constructor(txnId: string, key: string, request: SipRequest, channel: TransactionChannel, config: TimerConfig, private readonly user: InviteClientUser) {
    super(txnId, key, request, channel, config);
    this.interval = config.t1;
  }

  start(): void {
    this.transmit(this.request);
    if (!this.channel.reliable) this.scheduleTimerA();
    this.timers.start('B', timerB(this.config), () => {
      if (this.state === 'calling' || this.state === 'proceeding') {
        this.terminate();
        this.user.onTimeout();
      }
    });
  }

  /** Timer A: retransmit with doubling interval while Calling (§17.1.1.2). */
  private scheduleTimerA(): void {
    this.timers.start('A', this.interval, () => {
      if (this.state !== 'calling') return;
      this.transmit(this.request);
      this.interval *= 2;
      this.scheduleTimerA();
    });
  }

  /** Run fn once a provisional response has arrived (or at once if one has). */
  whenProvisional(fn: () => void): void {
    if (this.gotProvisional) fn();
    else this.provisionalWaiters.push(fn);
  }

  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          this.state = 'proceeding';
          this.timers.stop('A');
          this.timers.stop('B'); // Timer B only runs in Calling (§17.1.1.2); Timer C is the proxy's.
          if (!this.gotProvisional) {
            this.gotProvisional = true;
            const waiters = this.provisionalWaiters;
            this.provisionalWaiters = [];
            for (const fn of waiters) fn();
          }
          this.user.onResponse(res, false);
        } else if (status < 300) {
          // RFC 6026 §7.2: 2xx moves to Accepted; the TU (dialog) handles ACK and retransmits.
          this.finalStatus = status;
          this.state = 'accepted';
          this.timers.stop('A');
          this.timers.stop('B');
          this.timers.start('M', timerM(this.config), () => this.terminate());
          this.user.onResponse(res, false);
        } else {
          this.finalStatus = status;
          this.state = 'completed';
          this.timers.stop('A');
          this.timers.stop('B');
          this.ack = buildNon2xxAck(this.request, res);
          this.transmit(this.ack);
          this.user.onResponse(res, false);
          const d = timerD(this.config, this.channel.reliable);
          if (d === 0) this.terminate();
          else this.timers.start('D', d, () => this.terminate());
        }
        return;
      case 'completed':
        // §17.1.1.2: retransmitted final -> resend ACK, not passed up.
        if (status >= 300 && this.ack) this.transmit(this.ack);
        return;
      case 'accepted':
        // RFC 6026 §7.2: 2xx retransmissions (and forked 2xx) go to the TU.
        if (status >= 200 && status < 300) this.user.onResponse(res, true);
        return;
      default:
        return;
    }
  }

  protected onTransportError(err: unknown): void {
    if (this.state === 'calling' || this.state === 'proceeding') {
      this.terminate();
      this.user.onTransportError(err);
    }
  }
}

/**
 * ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, top Via and
 * CSeq number as the INVITE, To from the response, Route headers from the INVITE.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', invite.uri);
  const via = invite.getHeaderValues('Via')[0];
  if (via) ack.addHeader('Via', via);
  for (const route of invite.getHeaderLines('Route')) ack.addHeader('Route', route);
  ack.addHeader('Max-Forwards', '70');
  ack.addHeader('From', invite.getHeader('From') ?? '');
  ack.addHeader('To', res.getHeader('To') ?? invite.getHeader('To') ?? '');
  ack.addHeader('Call-ID', invite.callId);
  const seq = (invite.getHeader('CSeq') ?? '').trim().split(/\s+/)[0];
  ack.addHeader('CSeq', `${seq} ACK`);
  return ack;
}

/**
 * CANCEL for an INVITE we sent or forwarded (RFC 3261 §9.1, §16.10): Request-URI, Call-ID, To, From and the
 * top Via (ours) of the request, CSeq number with method CANCEL, the same Route headers.
 */
export function buildCancel(invite: SipRequest, reason?: string): SipRequest {
  const cancel = new SipRequest('CANCEL', invite.uri);
  cancel.addHeader('Via', invite.getHeaderValues('Via')[0] ?? '');
  for (const r of invite.getHeaderLines('Route')) cancel.addHeader('Route', r);
  cancel.addHeader('Max-Forwards', '70');
  cancel.addHeader('From', invite.getHeader('From') ?? '');
  cancel.addHeader('To', invite.getHeader('To') ?? '');
  cancel.addHeader('Call-ID', invite.callId);
  cancel.addHeader('CSeq', `${parseInt(invite.getHeader('CSeq') ?? '0', 10)} CANCEL`);
  if (reason) cancel.addHeader('Reason', reason); // RFC 3326
  return cancel;
}
