/**
 * One stateful proxy operation (RFC 3261 §16, drachtio-protocol §7.2): the server transaction
 * of a request an app chose to proxy, the "response context" (§16.7) and its branches.
 *
 *   searching --2xx--> answered (2xx forwarded, other branches CANCELled, app told `done`)
 *       |  \--401/407--> answered (challenge forwarded at once)
 *       |   \--upstream CANCEL--> answered (487), branches CANCELled
 *       +--all branches failed, no targets left--> best response forwarded (§16.7 step 6)
 *
 * The operation ends when its server transaction has terminated and no branch is active.
 *
 * Reporting to the app (fullResponse, §6): every final response of a branch (also the 408/503
 * we generate for a branch on Timer B/C, provisional timeout or transport failure) becomes a
 * `continue` message. They are sent together with `done` once the outcome is known - at the
 * first 2xx, or when the best response was chosen - with the response that went upstream last,
 * because srf takes the last one as `finalStatus`. Finals arriving after `done` are not reported.
 *
 * Reliable provisionals (RFC 3262) pass through unchanged instead of getting a proxy-local RSeq
 * as in drachtio-server: RSeq is scoped to the early dialog (To tag) that sent it and every branch
 * creates its own early dialogs, so the sequences of different branches never meet at the UAC.
 * PRACKs follow our Record-Route (stateless-forwarder.ts) or, without one, are relayed to the
 * branch whose To tag they carry (in-setup-relay.ts).
 */
import { createLogger } from '../../logging/logger';
import type { AppConnection } from '../control/app-connection';
import { getTag, parseNameAddr, withTag } from '../sip/headers';
import type { SipRequest, SipResponse } from '../sip/message';
import { tryParseUri } from '../sip/uri';
import type { Engine, InboundInfo } from '../core/engine';
import type { IncomingRequest } from '../core/pending';
import { buildResponse } from '../core/responses';
import { chooseBest, upstreamStatusFor, type ResponseCandidate } from './best-response';
import { ProxyBranch, type BranchOwner } from './proxy-branch';
import type { ProxyOptions } from './proxy-command';
import { relayToBranch } from './in-setup-relay';
import { ProxyReporter, type Report } from './proxy-reporter';
import { routeUri, upstreamCopy } from './proxy-sip';
import { buildTemplate, type RequestTemplate } from './request-template';

const log = createLogger('proxy');

/** Methods sent inside the early dialog that we relay to a live branch (§7.2 "INFO during set-up"). */
const IN_SETUP_METHODS = new Set(['INFO', 'PRACK', 'UPDATE']);
const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

interface Candidate extends ResponseCandidate {
  res: SipResponse;
  report: Report;
}

/** What the operation needs from the proxy core. */
export interface OperationHost {
  readonly timerCMs: number;
  remove(op: ProxyOperation): void;
}

export class ProxyOperation implements BranchOwner {
  readonly template: RequestTemplate;
  readonly branches: ProxyBranch[] = [];
  private readonly queue: string[] = [];
  private readonly seen = new Set<string>();
  private starting = 0;
  private serialBusy = false;
  private everStarted = false;
  private searchStopped = false;
  /** The final response sent upstream, once one was. */
  private answered?: SipResponse;
  /** The server transaction ended before we could answer (transport failure, shutdown). */
  private upstreamGone = false;
  private readonly reporter: ProxyReporter;
  private readonly candidates: Candidate[] = [];
  private seq = 0;
  private localTag?: string;
  private ended = false;

  constructor(
    private readonly host: OperationHost,
    readonly e: Engine,
    app: AppConnection,
    msgId: string,
    readonly pending: IncomingRequest,
    private readonly opts: ProxyOptions,
  ) {
    this.reporter = new ProxyReporter(app, msgId);
    this.template = buildTemplate(e, pending.req, pending.info, opts.recordRoute, opts.headers);
  }

  get request(): SipRequest {
    return this.pending.req;
  }

  get serverTxn(): IncomingRequest['txn'] {
    return this.pending.txn;
  }

  get callId(): string {
    return this.pending.req.callId;
  }

  get isInvite(): boolean {
    return this.pending.req.method === 'INVITE';
  }

  timerCMs(): number {
    return this.host.timerCMs;
  }

  provisionalTimeoutMs(): number | undefined {
    return this.opts.provisionalTimeoutMs;
  }

  start(): void {
    this.serverTxn.onTerminated(() => this.onServerTerminated());
    this.enqueue(this.opts.targets, false);
    if (this.opts.simultaneous) this.launchAll();
    else void this.runSerial();
  }

  // ---- the search (§16.5 target set, §16.6 forwarding) ------------------------------------

  private enqueue(targets: readonly string[], atFront: boolean): number {
    const fresh = targets.filter((t) => {
      const key = t.toLowerCase();
      if (this.seen.has(key)) return false;
      this.seen.add(key);
      return true;
    });
    if (atFront) this.queue.unshift(...fresh);
    else this.queue.push(...fresh);
    return fresh.length;
  }

  private launchAll(): void {
    for (const target of this.queue.splice(0)) void this.startBranch(target).then(() => this.checkComplete());
  }

  /** Serial forking: start targets in order until one is actually sent. */
  private async runSerial(): Promise<void> {
    if (this.serialBusy) return;
    this.serialBusy = true;
    try {
      while (!this.searchStopped && !this.answered && this.queue.length) {
        const b = await this.startBranch(this.queue.shift()!);
        if (b?.active) return;
      }
    } finally {
      this.serialBusy = false;
    }
    this.checkComplete();
  }

  private async startBranch(target: string): Promise<ProxyBranch | undefined> {
    const b = new ProxyBranch(this, target);
    this.branches.push(b);
    this.starting++;
    try {
      return (await b.start()) ? b : undefined;
    } finally {
      this.starting--;
    }
  }

  onBranchStarted(b: ProxyBranch): void {
    this.everStarted = true;
    if (this.isInvite && b.req) this.e.cdrs.emit('cdr:attempt', 'application', undefined, b.req);
    // Without fullResponse (HTTP-routed proxies) the app only learns that forwarding started.
    if (!this.opts.fullResponse) this.reporter.finishQuietly();
  }

  /** Nothing left to wait for: answer upstream if not done yet, tell the app, maybe end. */
  private checkComplete(): void {
    if (this.ended || this.starting > 0 || this.serialBusy) return;
    if (this.branches.some((b) => b.active)) return;
    if (!this.searchStopped && !this.answered && !this.upstreamGone && this.queue.length) {
      if (this.opts.simultaneous) this.launchAll();
      else void this.runSerial();
      return;
    }
    this.complete();
  }

  private complete(): void {
    if (!this.answered && !this.upstreamGone) {
      if (!this.everStarted) return this.failNoTarget();
      const best = chooseBest(this.candidates);
      let up: SipResponse;
      if (!best) {
        up = buildResponse(this.request, 408, undefined, this.tag()); // §16.7 step 6: none at all
      } else if (upstreamStatusFor(best.status) !== best.status) {
        up = buildResponse(this.request, upstreamStatusFor(best.status), undefined, this.tag());
        this.reporter.markForwarded(best.report);
      } else {
        up = upstreamCopy(best.res);
        this.reporter.markForwarded(best.report);
      }
      this.answerUpstream(up);
      this.cdrStop(up);
    }
    this.reporter.finish();
    this.maybeEnd();
  }

  /** §7.2: no target could even be started. */
  private failNoTarget(): void {
    this.reporter.fail('error proxying request to ');
    const res = buildResponse(this.request, 500, undefined, this.tag());
    this.answerUpstream(res);
    this.cdrStop(res);
    this.maybeEnd();
  }

  // ---- responses from branches (§16.7) ------------------------------------------------------

  /** §16.7 step 5: provisionals other than 100 go upstream at once, until a final went. */
  onBranchProvisional(_b: ProxyBranch, res: SipResponse): void {
    if (this.answered || this.upstreamGone || res.status === 100) return;
    this.serverTxn.respond(upstreamCopy(res));
  }

  onBranchFinal(b: ProxyBranch, res: SipResponse, synthetic: boolean): void {
    const report = ProxyReporter.reportOf(b.flow, res);
    if (res.status < 300) return this.onSuccess(res, report, b);
    this.reporter.add(report);
    if (this.answered || this.upstreamGone) return this.checkComplete();
    // §16.5/§16.7 step 4: recurse on a redirect's Contacts instead of keeping the 3xx.
    if (res.status < 400 && this.opts.followRedirects && !this.searchStopped && this.recurse(res)) return this.checkComplete();
    if (!synthetic && (res.status === 401 || res.status === 407)) {
      // drachtio: a challenge ends the search and goes upstream right away.
      this.reporter.markForwarded(report);
      const up = upstreamCopy(res);
      this.answerUpstream(up);
      this.cdrStop(up);
      this.stopSearch();
      this.cancelActive();
      return this.checkComplete();
    }
    this.candidates.push({ status: res.status, synthetic, seq: this.seq++, res, report });
    if (res.status >= 600) {
      // §16.7 step 5: a 6xx is not forwarded yet, but pending branches are cancelled and no
      // new ones are created.
      this.stopSearch();
      this.cancelActive();
    }
    this.checkComplete();
  }

  onBranchLateSuccess(b: ProxyBranch, res: SipResponse, retransmission: boolean): void {
    if (retransmission) {
      // RFC 6026 §7.2 / RFC 3261 §16.7 step 5: every 2xx goes upstream, retransmissions too.
      this.forwardRaw(upstreamCopy(res));
      return;
    }
    this.onSuccess(res, ProxyReporter.reportOf(b.flow, res), b);
  }

  /** §16.7 step 5 and step 10: forward every 2xx; the first one cancels the other branches. */
  private onSuccess(res: SipResponse, report: Report, winner: ProxyBranch): void {
    const up = upstreamCopy(res);
    if (!this.answered && !this.upstreamGone) {
      this.answerUpstream(up);
      if (this.isInvite) {
        this.e.cdrs.emit('cdr:start', 'network', 'proxy-uac', res);
        this.e.cdrs.emit('cdr:start', 'application', 'proxy-uas', up);
      }
      this.learnRegistration(up);
      this.reporter.add(report);
      this.reporter.markForwarded(report);
      this.stopSearch();
      this.cancelActive(winner, COMPLETED_ELSEWHERE);
      this.reporter.finish();
    } else if (this.isInvite) {
      if (!this.serverTxn.respond(up)) this.forwardRaw(up);
      this.reporter.add(report);
    }
    this.checkComplete();
  }

  /** Contacts of a 3xx become targets right after the current one (§16.5, §16.6 q ordering). */
  private recurse(res: SipResponse): boolean {
    const sipsOnly = /^sips:/i.test(this.request.uri);
    const contacts: Array<{ uri: string; q: number }> = [];
    for (const value of res.getHeaderValues('Contact')) {
      try {
        const na = parseNameAddr(value);
        const uri = tryParseUri(na.uri);
        if (!uri || !['sip', 'sips', 'tel'].includes(uri.scheme)) continue;
        if (sipsOnly && uri.scheme !== 'sips') continue; // §16.5: never downgrade from SIPS
        const q = Number(na.params.get('q') ?? '1');
        contacts.push({ uri: na.uri, q: Number.isFinite(q) ? q : 1 });
      } catch {
        /* unusable Contact */
      }
    }
    contacts.sort((a, b) => b.q - a.q);
    const added = this.enqueue(contacts.map((c) => c.uri), true);
    if (added && this.opts.simultaneous) this.launchAll();
    return added > 0;
  }

  // ---- upstream -----------------------------------------------------------------------------

  private answerUpstream(res: SipResponse): void {
    if (res.status > 100 && !getTag(res.getHeader('To') ?? '')) res.setHeader('To', withTag(res.getHeader('To') ?? '', this.tag()));
    this.answered = res;
    if (!this.serverTxn.respond(res)) log.info({ callId: this.callId, status: res.status }, 'proxy: upstream transaction no longer accepts a final response');
  }

  /** Send on the server transaction's channel, bypassing its state (forked / resent 2xx). */
  private forwardRaw(res: SipResponse): void {
    this.serverTxn.channel.send(res).catch((err: Error) => log.info({ callId: this.callId, err: err.message }, 'proxy: 2xx not forwarded upstream'));
  }

  /** §16.10: CANCEL from upstream - 200 to it, 487 for the request, CANCEL every branch. */
  onUpstreamCancel(cancel: SipRequest, info: InboundInfo): void {
    const txn = this.e.networkRequests.createServerTransaction(cancel, info);
    txn.respond(buildResponse(cancel, 200, undefined, this.tag()));
    if (this.answered || this.upstreamGone) return;
    this.answerUpstream(buildResponse(this.request, 487, undefined, this.tag()));
    this.e.cdrs.emit('cdr:stop', 'network', 'call-canceled', cancel);
    this.stopSearch();
    this.cancelActive();
    this.checkComplete();
  }

  /**
   * A request inside the early dialog (INFO, PRACK, UPDATE) that reached us without a Route:
   * relay it statefully to the branch whose early dialog it names, or any live one (§7.2).
   */
  forwardInSetup(req: SipRequest, info: InboundInfo): boolean {
    if (!IN_SETUP_METHODS.has(req.method) || !this.isInvite || this.answered || this.upstreamGone) return false;
    if (getTag(req.getHeader('From') ?? '') !== getTag(this.request.getHeader('From') ?? '')) return false;
    const live = this.branches.filter((b) => b.active && b.req && b.flow);
    const toTag = getTag(req.getHeader('To') ?? '');
    const b = (toTag && live.find((x) => x.toTags.has(toTag))) || live[0];
    if (!b?.req || !b.flow) return false;
    relayToBranch(this.e, req, info, b, this.tag());
    return true;
  }

  // ---- bookkeeping --------------------------------------------------------------------------

  private stopSearch(): void {
    this.searchStopped = true;
    this.queue.length = 0;
  }

  private cancelActive(except?: ProxyBranch, reason?: string): void {
    for (const b of this.branches) if (b !== except && b.active) b.cancel(reason);
  }

  private cdrStop(res: SipResponse): void {
    if (this.isInvite && res.status >= 300) this.e.cdrs.emit('cdr:stop', 'application', res.status === 487 ? 'call-canceled' : 'call-rejected', res);
  }

  /** §11.3: a proxied REGISTER/SUBSCRIBE success for a `.invalid` Contact caches the connection. */
  private learnRegistration(res: SipResponse): void {
    const conn = this.pending.info.connection;
    const m = this.request.method;
    if (!conn || (m !== 'REGISTER' && m !== 'SUBSCRIBE') || res.status >= 300) return;
    const invalid = this.request.getHeaderValues('Contact').some((c) => routeUri(c)?.host.endsWith('.invalid'));
    if (invalid) this.e.registrations.learn(this.request, res, conn);
  }

  private tag(): string {
    this.localTag ??= this.e.newTag();
    return this.localTag;
  }

  private onServerTerminated(): void {
    if (!this.answered && !this.upstreamGone) {
      // The upstream side is gone (transport failure, shutdown): stop everything.
      this.upstreamGone = true;
      this.stopSearch();
      this.cancelActive();
      this.reporter.finish();
    }
    this.maybeEnd();
  }

  /** The operation is over once upstream is settled, the app told, and no branch is active. */
  private maybeEnd(): void {
    if (this.ended || !this.reporter.done || !this.serverTxn.terminated) return;
    if (this.starting > 0 || this.branches.some((b) => b.active)) return;
    this.ended = true;
    for (const b of this.branches) b.destroy();
    this.host.remove(this);
  }

  /** Engine shutdown. */
  destroy(): void {
    this.ended = true;
    for (const b of this.branches) b.destroy();
  }
}
