/**
 * A dialog (RFC 3261 §12) as the engine keeps it: identifiers, route set, remote target,
 * CSeq counters, and the flow it lives on. One per dialogId (drachtio-protocol §10.5).
 */
import { SipRequest, type SipMessage } from '../sip/message';
import { getTag } from '../sip/headers';
import type { Connection, Protocol, Transport } from '../transport';
import type { AppConnection } from '../control/app-connection';
import type { Retransmitter } from './retransmitter';

export type DialogRole = 'uac' | 'uas';
export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface DialogFlow {
  protocol: Protocol;
  transport: Transport;
  /** Connection the dialog was set up on (stream and WebSocket transports). */
  connection?: Connection;
  /** Address the far end's messages come from (used for WebSocket and NAT, §10.11). */
  remoteAddress: string;
  remotePort: number;
}

export function dialogIdOf(callId: string, fromTag: string): string {
  return `${callId};from-tag=${fromTag}`;
}

export class Dialog {
  state: DialogState = 'early';
  /** Value of our From (UAC) or To (UAS) header, with our tag. */
  localHeader: string;
  /** Value of the peer's header, with its tag. */
  remoteHeader: string;
  localCSeq: number;
  remoteCSeq = 0;
  routeSet: string[] = [];
  remoteTarget = '';
  localContact = '';
  localSdp?: Buffer;
  localContentType?: string;
  /** The app that owns the dialog (§9.1 dialog affinity). */
  app?: AppConnection;
  /** UAS: 2xx retransmission until ACK (§13.3.1.4). */
  ackWait?: Retransmitter;
  /** UAS: CSeq of the INVITE whose 2xx waits for ACK. */
  ackWaitCSeq?: number;
  /** UAC: the last ACK we sent, resent on retransmitted 2xx (Timer D behaviour, §10.4). */
  lastAck?: { cseq: number; ack: SipRequest; expires: number };
  /** UAC: our INVITE (initial or re-INVITE) still waiting for a final response. */
  inviteInProgress?: { txnId: string; cseq: number };
  /** CSeq of the INVITE whose 2xx our next ACK acknowledges (UAC). */
  ackCSeq?: number;
  /** UAS: txnId of an INVITE from the peer on this dialog not yet finally answered. */
  incomingInviteTxnId?: string;
  /** Where in-dialog requests go when the NAT heuristics overrode the target (§10.11). */
  natTarget?: { address: string; port: number };
  /** The INVITE transaction that created the dialog was cancelled (cancel/200 race, §10.4). */
  cancelled = false;
  /** Session timer (RFC 4028), see core/session-timers.ts. */
  sessionTimer?: { stop(): void; refreshedByPeer?(req: SipRequest): void };
  /** Subscription dialogs: forgotten when the subscription lapses unrefreshed (RFC 6665 §4.1.2.2). */
  subscriptionExpiry?: NodeJS.Timeout;
  /** Subscription dialogs end on a terminated NOTIFY (§10.9). */
  readonly isSubscription: boolean;

  constructor(
    readonly id: string,
    readonly role: DialogRole,
    readonly callId: string,
    readonly localTag: string,
    public remoteTag: string,
    localHeader: string,
    remoteHeader: string,
    initialLocalCSeq: number,
    public flow: DialogFlow,
    method: string,
  ) {
    this.localHeader = localHeader;
    this.remoteHeader = remoteHeader;
    this.localCSeq = initialLocalCSeq;
    this.isSubscription = method === 'SUBSCRIBE';
  }

  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /** Set route set and remote target from a dialog-creating message (§12.1.1, §12.1.2). */
  learnRouting(msg: SipMessage, reverseRoutes: boolean): void {
    const rr = msg.getHeaderValues('Record-Route');
    this.routeSet = reverseRoutes ? rr.reverse() : rr;
    this.updateTarget(msg);
  }

  /** Target refresh (§12.2.1.2 / §12.2.2): the Contact of the message. */
  updateTarget(msg: SipMessage): void {
    const contact = msg.getHeaderValues('Contact')[0];
    if (!contact) return;
    const m = /<([^>]*)>/.exec(contact);
    this.remoteTarget = (m ? m[1] : contact.split(';')[0]).trim();
  }

  /** Next CSeq for a request we originate in the dialog (§12.2.1.1). */
  nextCSeq(): number {
    this.localCSeq += 1;
    return this.localCSeq;
  }

  /**
   * Build the skeleton of an in-dialog request (§12.2.1.1): Request-URI and Route per the
   * route set (loose or strict routing, §16.12.1.2 style), From/To/Call-ID from the dialog.
   * Returns the request and the URI of the next hop.
   */
  buildRequest(method: string, cseq: number, requestUri?: string): { req: SipRequest; nextHop: string } {
    const target = requestUri ?? this.remoteTarget;
    let uri = target;
    let routes = [...this.routeSet];
    const firstRoute = routes[0] ? /<([^>]*)>/.exec(routes[0])?.[1] ?? routes[0] : undefined;
    if (firstRoute && !/;lr(?:[;=>]|$)/i.test(firstRoute)) {
      // Strict router (§12.2.1.1): Request-URI is the first route, remote target goes last.
      uri = firstRoute;
      routes = [...routes.slice(1), `<${target}>`];
    }
    const req = new SipRequest(method, uri);
    for (const r of routes) req.addHeader('Route', r);
    req.addHeader('Max-Forwards', '70');
    req.addHeader('From', this.localHeader);
    req.addHeader('To', this.remoteHeader);
    req.addHeader('Call-ID', this.callId);
    req.addHeader('CSeq', `${cseq} ${method}`);
    const nextHop = firstRoute ?? target;
    return { req, nextHop };
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.ackWait?.stop();
    this.sessionTimer?.stop();
    if (this.subscriptionExpiry) clearTimeout(this.subscriptionExpiry);
  }
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/** Key of the dialog an incoming request belongs to: our tag is in To, theirs in From. */
export function incomingRequestKey(req: SipRequest): string | undefined {
  const toTag = getTag(req.getHeader('To') ?? '');
  const fromTag = getTag(req.getHeader('From') ?? '');
  if (!toTag) return undefined;
  return dialogKey(req.callId, toTag, fromTag ?? '');
}
