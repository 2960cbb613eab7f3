/**
 * Common face of the four RFC 3261 §17 transaction state machines.
 */
import type { SipMessage, SipRequest, SipResponse } from '../sip/message';
import { TimerSet, type TimerConfig } from './timers';

/** Where a transaction's messages go: the core binds it to a transport and destination. */
export interface TransactionChannel {
  /** Reliable transports (TCP, TLS, WS) switch off retransmission timers (§17.1.1.2, §17.2.1). */
  readonly reliable: boolean;
  /** Send one message; a rejection is a transport error (§17.1.4, §17.2.4). */
  send(msg: SipMessage): Promise<unknown>;
}

export type TransactionKind = 'ict' | 'nict' | 'ist' | 'nist';

export abstract class Transaction<State extends string> {
  protected readonly timers = new TimerSet();
  private terminatedListeners: Array<() => void> = [];
  abstract state: State;
  /** Dialog this transaction created or belongs to, once known (drachtio dialogId). */
  dialogId?: string;

  constructor(
    /** Server-issued id used on the control port (drachtio "txnId"). */
    readonly txnId: string,
    /** Matching key (§17.1.3 / §17.2.3). */
    readonly key: string,
    readonly request: SipRequest,
    readonly channel: TransactionChannel,
    protected readonly config: TimerConfig,
  ) {}

  abstract readonly kind: TransactionKind;

  get terminated(): boolean {
    return this.state === 'terminated';
  }

  onTerminated(fn: () => void): void {
    if (this.terminated) fn();
    else this.terminatedListeners.push(fn);
  }

  protected transmit(msg: SipMessage): void {
    this.channel.send(msg).catch((err: unknown) => this.onTransportError(err));
  }

  protected abstract onTransportError(err: unknown): void;

  /** Move to Terminated: clear timers and tell the layer to forget the transaction. */
  protected terminate(): void {
    if (this.terminated) return;
    this.timers.clear();
    (this as { state: string }).state = 'terminated';
    const listeners = this.terminatedListeners;
    this.terminatedListeners = [];
    for (const fn of listeners) fn();
  }

  /** Forced end (engine shutdown, app gone): no further messages. */
  destroy(): void {
    this.terminate();
  }
}

export type ResponseHandler = (res: SipResponse) => void;
