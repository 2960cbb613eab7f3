/**
 * Proxy core for `srf.proxyRequest` (drachtio-protocol §7, RFC 3261 §16): `proxy` commands from
 * apps start a stateful ProxyOperation (proxy-operation.ts) on the server transaction of a
 * request the app received; requests and responses that merely pass through a Record-Routed
 * dialog are forwarded statelessly (stateless-forwarder.ts).
 *
 * Entry points used by the engine core:
 *   onProxyCommand   `proxy|...` from an app
 *   handleRequest    every request (not ACK/CANCEL) that is not a server-transaction
 *                    retransmission, before dialog matching; ACKs matching no transaction
 *   handleCancel     CANCELs matching no CANCEL server transaction
 *   handleResponse   responses matching no client transaction
 */
import { createLogger } from '../../logging/logger';
import type { AppCommand } from '../control/app-connection';
import * as wire from '../control/wire';
import type { SipRequest, SipResponse } from '../sip/message';
import { serverKey } from '../transaction/transaction-layer';
import type { Engine, InboundInfo } from '../core/engine';
import { buildResponse } from '../core/responses';
import { parseProxyCommand } from './proxy-command';
import { ProxyOperation, type OperationHost } from './proxy-operation';
import { maxForwardsIsZero } from './proxy-sip';
import { StatelessForwarder } from './stateless-forwarder';

const log = createLogger('proxy');

/** RFC 3261 §16.6 step 11: "Timer C MUST be set ... with a value greater than 3 minutes". */
export const DEFAULT_TIMER_C_MS = 185_000;

export class ProxyCore implements OperationHost {
  /** Timer C for INVITE branches; tests shorten it. */
  timerCMs = DEFAULT_TIMER_C_MS;
  readonly stateless: StatelessForwarder;
  /** Live operations by the txnId of their server transaction. */
  private readonly ops = new Map<string, ProxyOperation>();
  /** The same operations by Call-ID, for CANCEL and in-setup requests. */
  private readonly byCallId = new Map<string, Set<ProxyOperation>>();

  constructor(private readonly e: Engine) {
    this.stateless = new StatelessForwarder(e);
  }

  get size(): number {
    return this.ops.size;
  }

  /** `proxy|<txnId>|...` (§7.1, §7.2). */
  onProxyCommand(cmd: AppCommand): void {
    const opts = parseProxyCommand(cmd.tokens, cmd.sip);
    const pending = this.e.incoming.get(opts.txnId);
    const txn = pending?.txn;
    if (!pending || !txn || pending.cancelled || pending.app !== cmd.app || (txn.state !== 'proceeding' && txn.state !== 'trying')) {
      cmd.app.send(wire.nok(cmd.msgId, `Unknown transaction id: ${opts.txnId}`));
      return;
    }
    // The app hands the request over: it will never answer it itself.
    this.e.incoming.delete(opts.txnId);
    if (pending.timeout) clearTimeout(pending.timeout);
    pending.timeout = undefined;
    const req = pending.req;
    if (maxForwardsIsZero(req)) {
      // §16.3 step 3.
      const res = buildResponse(req, 483, undefined, this.e.newTag());
      txn.respond(res);
      if (req.method === 'INVITE') this.e.cdrs.emit('cdr:stop', 'application', 'call-rejected', res);
      cmd.app.send(wire.nok(cmd.msgId, 'Rejected with 483 Too Many Hops due to Max-Forwards value of 0'));
      return;
    }
    const op = new ProxyOperation(this, this.e, cmd.app, cmd.msgId, pending, opts);
    this.ops.set(txn.txnId, op);
    let set = this.byCallId.get(op.callId);
    if (!set) this.byCallId.set(op.callId, (set = new Set()));
    set.add(op);
    log.info({ callId: op.callId, method: req.method, targets: opts.targets, mode: opts.simultaneous ? 'simultaneous' : 'serial' }, 'proxying request');
    op.start();
  }

  remove(op: ProxyOperation): void {
    if (this.ops.get(op.serverTxn.txnId) === op) this.ops.delete(op.serverTxn.txnId);
    const set = this.byCallId.get(op.callId);
    if (set) {
      set.delete(op);
      if (!set.size) this.byCallId.delete(op.callId);
    }
  }

  /**
   * drachtio-protocol §10.1 steps 4 and 5: requests routed through us inside a proxied dialog,
   * and requests belonging to a proxy operation in progress.
   */
  handleRequest(req: SipRequest, info: InboundInfo): boolean {
    const ops = this.byCallId.get(req.callId);
    if (req.method === 'ACK' && ops) {
      // A late retransmitted ACK for a non-2xx we forwarded: hop-by-hop, absorbed (§17.2.1).
      const key = serverKey(req);
      for (const op of ops) if (op.serverTxn.key === key) return true;
    }
    const verdict = this.stateless.forwardRequest(req, info);
    if (verdict === 'forwarded') return true;
    if (ops) for (const op of ops) if (op.forwardInSetup(req, info)) return true;
    return false;
  }

  /** §16.10: a CANCEL for a request we are proxying, or one passing through statelessly. */
  handleCancel(req: SipRequest, info: InboundInfo): boolean {
    const ops = this.byCallId.get(req.callId);
    if (ops) {
      const key = serverKey(req, 'INVITE');
      for (const op of ops) {
        if (op.isInvite && op.serverTxn.key === key) {
          op.onUpstreamCancel(req, info);
          return true;
        }
      }
    }
    return this.stateless.forwardRequest(req, info) === 'forwarded';
  }

  /** §10.1 step 8: a response with our Via above another goes upstream statelessly. */
  handleResponse(res: SipResponse, _info: InboundInfo): boolean {
    return this.stateless.forwardResponse(res);
  }

  destroyAll(): void {
    for (const op of this.ops.values()) op.destroy();
    this.ops.clear();
    this.byCallId.clear();
  }
}
