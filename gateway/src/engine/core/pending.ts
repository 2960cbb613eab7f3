/**
 * State the engine keeps between the wire and the apps for one transaction.
 */
import type { AppConnection } from '../control/app-connection';
import type { Dialog } from '../dialog/dialog';
import type { Retransmitter } from '../dialog/retransmitter';
import type { SipRequest, SipResponse } from '../sip/message';
import type { InviteClientTransaction } from '../transaction/invite-client';
import type { NonInviteClientTransaction } from '../transaction/non-invite-client';
import type { ServerTransaction } from '../transaction/transaction-layer';
import type { Connection, Protocol, Transport } from '../transport';
import type { InboundInfo } from './engine';

/** A request from the network delivered to an app (drachtio "pending request", §10.1). */
export interface IncomingRequest {
  txnId: string;
  req: SipRequest;
  txn: ServerTransaction;
  info: InboundInfo;
  app?: AppConnection;
  /** Set for requests inside a dialog, and for INVITE/SUBSCRIBE once the dialog exists. */
  dialog?: Dialog;
  /** Our To tag for this INVITE/SUBSCRIBE once a response carried one. */
  localTag?: string;
  /** A CANCEL arrived and was answered (§10.1 quick cancel, §10.3). */
  cancelled: boolean;
  /** The peer listed 100rel in Supported or Require (RFC 3262). */
  supports100rel: boolean;
  /** Reliable provisional waiting for PRACK (RFC 3262 §3). */
  reliable?: { rseq: number; retransmit: Retransmitter };
  /** Reliable provisionals the app sent while one was still unacknowledged (RFC 3262 §3). */
  queuedReliable?: SipResponse[];
  lastRSeq: number;
  /** An UPDATE inside the early dialog, delivered under this INVITE's txnId (§5.2 kind 4). */
  earlyUpdate?: { req: SipRequest; txn: ServerTransaction };
  /** Pending-request timeout (64 s, §10.1). */
  timeout?: NodeJS.Timeout;
}

export interface Flow {
  protocol: Protocol;
  address: string;
  port: number;
  transport: Transport;
  connection?: Connection;
}

/** A request an app sent, waiting for its final response. */
export interface OutgoingRequest {
  txnId: string;
  app?: AppConnection;
  req: SipRequest;
  txn: InviteClientTransaction | NonInviteClientTransaction;
  flow: Flow;
  /** UAC dialog (initial INVITE/SUBSCRIBE) or the dialog an in-dialog request belongs to. */
  dialog?: Dialog;
  /** The request creates a dialog (initial INVITE or SUBSCRIBE). */
  initial: boolean;
  cancelled: boolean;
  /** The local tag of an initial request (dialogId = Call-ID;from-tag=localTag). */
  localTag: string;
  dialogId: string;
  /** CANCEL requested before any provisional arrived (§9.1: sent once one does). */
  cancelPending?: boolean;
}
