/**
 * One branch of a proxy operation: the forwarded copy of the request toward one target and its
 * client transaction (RFC 3261 §16.6 "Request Forwarding", §16.8 Timer C, §16.10 CANCEL).
 *
 *   idle --start--> starting --sent--> calling --1xx--> proceeding --final--> completed
 *                      |                  |                |
 *                      +--(no route)--> failed             +--Timer C / cancel--> completed
 *
 * A branch is "active" until it has a final outcome for the operation. A branch cancelled
 * before any provisional arrived is finished at once; its CANCEL goes out when (if) a
 * provisional shows up (§9.1), and a late 2xx is still handed to the operation (§16.7 step 5).
 */
import { createLogger } from '../../logging/logger';
import { getTag } from '../sip/headers';
import type { SipRequest, SipResponse } from '../sip/message';
import { tryParseUri } from '../sip/uri';
import { InviteClientTransaction } from '../transaction/invite-client';
import { NonInviteClientTransaction } from '../transaction/non-invite-client';
import { TimerSet } from '../transaction/timers';
import { clientKeyFor, newBranch } from '../transaction/transaction-layer';
import type { Engine } from '../core/engine';
import { applyAppHeaders } from '../core/header-policy';
import type { Flow } from '../core/pending';
import { buildResponse } from '../core/responses';
import { cloneRequest, insertTopHeader, recordRouteValue, resolveFlow, RoutingError } from './proxy-sip';
import { buildCancel } from '../transaction/invite-client';
import type { RequestTemplate } from './request-template';
import { FLOW_PARAM, makeFlowToken } from './flow-token';

const log = createLogger('proxy');

export type BranchState = 'idle' | 'starting' | 'calling' | 'proceeding' | 'completed' | 'failed';

/** What a branch reports to the operation that owns it. */
export interface BranchOwner {
  readonly e: Engine;
  readonly template: RequestTemplate;
  timerCMs(): number;
  provisionalTimeoutMs(): number | undefined;
  onBranchStarted(b: ProxyBranch): void;
  onBranchProvisional(b: ProxyBranch, res: SipResponse): void;
  /** First final outcome of the branch; synthetic responses were generated here. */
  onBranchFinal(b: ProxyBranch, res: SipResponse, synthetic: boolean): void;
  /** A 2xx after the branch was finished (late fork answer) or a 2xx retransmission. */
  onBranchLateSuccess(b: ProxyBranch, res: SipResponse, retransmission: boolean): void;
}

/** Headers of the app's proxy command never copied onto forwarded requests (dialog identity). */
const APP_SKIP = new Set(['from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards']);

export class ProxyBranch {
  readonly branchId = newBranch();
  state: BranchState = 'idle';
  req?: SipRequest;
  flow?: Flow;
  txn?: InviteClientTransaction | NonInviteClientTransaction;
  /** The final response that finished the branch (received or synthetic). */
  final?: SipResponse;
  /** To tags seen in responses (one per early dialog this branch created). */
  readonly toTags = new Set<string>();
  private abandoned = false;
  private readonly timers = new TimerSet();

  constructor(
    private readonly owner: BranchOwner,
    readonly target: string,
  ) {}

  get active(): boolean {
    return this.state === 'starting' || this.state === 'calling' || this.state === 'proceeding';
  }

  /**
   * Resolve the target and send (§16.6 steps 1-8). Resolves to false when the branch could not
   * be started (unroutable target, no transport, loop, or cancelled while resolving).
   */
  async start(): Promise<boolean> {
    const e = this.owner.e;
    const tpl = this.owner.template;
    this.state = 'starting';
    let flow: Flow;
    let req: SipRequest;
    try {
      const targetUri = tryParseUri(this.target);
      if (!targetUri) throw new RoutingError(`invalid target ${this.target}`);
      // §16.6 step 2 as drachtio does it: the target becomes the Request-URI only when the
      // request was addressed to us; otherwise the target is just the next hop (§16.6 step 7).
      const ruri = tpl.ruriIsLocal && (targetUri.scheme === 'sip' || targetUri.scheme === 'sips' || targetUri.scheme === 'tel') ? this.target : tpl.base.uri;
      flow = await resolveFlow(e, targetUri, ruri);
      if (this.abandoned) throw new RoutingError('branch cancelled while resolving');
      req = cloneRequest(tpl.base);
      req.uri = ruri;
      this.decorate(req, flow);
    } catch (err) {
      this.state = 'failed';
      log.info({ target: this.target, callId: tpl.base.callId, err: (err as Error).message }, 'proxy target not started');
      return false;
    }
    this.req = req;
    this.flow = flow;
    this.send(req, flow);
    return true;
  }

  /** §16.6 steps 4 (Record-Route / Path), 8 (Via) and the app's extra headers (§7.2). */
  private decorate(req: SipRequest, flow: Flow): void {
    const e = this.owner.e;
    const tpl = this.owner.template;
    const hostport = e.hostport(flow.transport, flow.address);
    applyAppHeaders(req, tpl.appHeaders, { hostport, skip: APP_SKIP });
    if (tpl.recordRoute) {
      const out = recordRouteValue(flow.transport, flow.address);
      if (req.method === 'REGISTER') {
        // RFC 3327: Path instead of Record-Route for registrations.
        insertTopHeader(req, 'Path', out);
        if (!req.getHeaderValues('Require').some((v) => v.toLowerCase() === 'path')) req.addHeader('Require', 'path');
      } else {
        // RFC 5658 double Record-Route when the two sides use different transports: the entry
        // for the inbound side sits below the one for the outbound side.
        // The inbound entry carries a flow token when the request came over a connection.
        const conn = tpl.inbound.connection;
        const inbound = recordRouteValue(tpl.inbound.transport, tpl.inbound.remoteAddress, conn ? `;${FLOW_PARAM}=${makeFlowToken(conn.id)}` : '');
        if (inbound !== out) insertTopHeader(req, 'Record-Route', inbound);
        insertTopHeader(req, 'Record-Route', out);
      }
    }
    req.prependHeader('Via', e.dialogSender.via(flow, this.branchId));
  }

  private send(req: SipRequest, flow: Flow): void {
    const e = this.owner.e;
    const channel = e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection);
    const key = clientKeyFor(this.branchId, req.method);
    const txnId = e.newTxnId();
    if (req.method === 'INVITE') {
      this.txn = new InviteClientTransaction(txnId, key, req, channel, e.timers, {
        onResponse: (res, retransmission) => this.onResponse(res, retransmission),
        onTimeout: () => this.finishLocally(408, 'timer B'),
        onTransportError: (err) => this.finishLocally(503, (err as Error).message),
      });
      this.timers.start('C', this.owner.timerCMs(), () => this.onTimerC());
    } else {
      this.txn = new NonInviteClientTransaction(txnId, key, req, channel, e.timers, {
        onResponse: (res) => this.onResponse(res, false),
        onTimeout: () => this.finishLocally(408, 'timer F'),
        onTransportError: (err) => this.finishLocally(503, (err as Error).message),
      });
    }
    const prov = this.owner.provisionalTimeoutMs();
    if (prov !== undefined) this.timers.start('provisional', prov, () => this.onProvisionalTimeout());
    this.state = 'calling';
    e.txns.addClient(this.txn);
    this.owner.onBranchStarted(this);
    this.txn.start();
  }

  private onResponse(res: SipResponse, retransmission: boolean): void {
    const tag = getTag(res.getHeader('To') ?? '');
    if (tag) this.toTags.add(tag);
    if (retransmission) {
      this.owner.onBranchLateSuccess(this, res, true);
      return;
    }
    if (res.status < 200) {
      if (!this.active) return; // finished (cancelled, timed out): nothing more goes upstream
      this.state = 'proceeding';
      this.timers.stop('provisional');
      // §16.8: Timer C is reset by provisional responses (drachtio: those above 100).
      if (res.status > 100 && this.txn?.kind === 'ict') this.timers.start('C', this.owner.timerCMs(), () => this.onTimerC());
      this.owner.onBranchProvisional(this, res);
      return;
    }
    this.timers.clear();
    if (!this.active) {
      if (res.status < 300) this.owner.onBranchLateSuccess(this, res, false);
      return;
    }
    this.state = 'completed';
    this.final = res;
    this.owner.onBranchFinal(this, res, false);
  }

  /** Timer B/F expiry -> 408, transport failure -> 503 (§16.7 step 2, §16.9). */
  private finishLocally(status: 408 | 503, why: string): void {
    if (!this.active || !this.req) return;
    log.info({ target: this.target, callId: this.req.callId, status, why }, 'proxy branch failed locally');
    this.timers.clear();
    this.state = 'completed';
    this.final = buildResponse(this.req, status);
    this.owner.onBranchFinal(this, this.final, true);
  }

  /** §16.8: Timer C fired - CANCEL the branch (once it has a provisional) and count it as 408. */
  private onTimerC(): void {
    if (!this.active) return;
    this.cancel();
    this.finishLocallyAfterCancel(408, 'timer C');
  }

  /** §7.2 provisionalTimeout: no provisional in time - give up on this target. */
  private onProvisionalTimeout(): void {
    if (this.state !== 'calling') return;
    this.cancel();
    this.finishLocallyAfterCancel(408, 'provisional timeout');
  }

  private finishLocallyAfterCancel(status: 408, why: string): void {
    if (!this.req || this.state === 'failed') return;
    log.info({ target: this.target, callId: this.req.callId, why }, 'proxy branch given up');
    this.timers.clear();
    this.state = 'completed';
    this.final = buildResponse(this.req, status);
    this.owner.onBranchFinal(this, this.final, true);
  }

  /**
   * §16.10 / §9.1: CANCEL the branch. Non-INVITE branches are never cancelled (§9.1 "SHOULD
   * NOT"); they run to their own end. An INVITE branch without a provisional yet finishes now,
   * its CANCEL waiting for the first provisional. Returns true when the branch stays active
   * until its final response (the 487) arrives.
   */
  cancel(reason?: string): boolean {
    if (!this.active) return false;
    if (this.abandoned) return true;
    this.abandoned = true;
    this.timers.stop('provisional');
    if (this.state === 'starting') return true; // start() notices and gives up
    const ict = this.txn?.kind === 'ict' ? (this.txn as InviteClientTransaction) : undefined;
    const req = this.req;
    const flow = this.flow;
    if (!ict || !req || !flow) return this.active;
    ict.whenProvisional(() => {
      if (ict.state !== 'proceeding') return;
      this.owner.e.dialogSender.sendAndForget(buildCancel(req, reason), flow);
    });
    if (this.state === 'calling') {
      this.timers.clear();
      this.state = 'completed';
      return false;
    }
    return this.active;
  }

  /** Forget timers (engine shutdown). The transaction table destroys the transaction itself. */
  destroy(): void {
    this.timers.clear();
    this.abandoned = true;
  }
}
