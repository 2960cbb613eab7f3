/**
 * Stateless forwarding (RFC 3261 §16.11) for everything that passes through us after a proxied
 * dialog was set up with our Record-Route (drachtio-protocol §7.2 "Requests after set-up",
 * §10.1 steps 4 and 8):
 *  - requests whose top Route is ours (with lr) and that carry a To tag: our Route entries are
 *    removed (§16.4) and the request goes to the next Route or the Request-URI;
 *  - responses that match no client transaction but carry our Via on top and another below:
 *    our Via is removed and the response goes where the next Via says (§16.7 step 3, §18.2.2,
 *    RFC 3581).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createLogger } from '../../logging/logger';
import { getTag, parseCSeq, parseVia, type Via } from '../sip/headers';
import type { SipRequest, SipResponse } from '../sip/message';
import { SipUri, tryParseUri } from '../sip/uri';
import { MAGIC_COOKIE } from '../transaction/transaction-layer';
import type { Connection, Protocol } from '../transport';
import { isLocalHost, resolveUri, selectTransport, stripBrackets } from '../core/destinations';
import type { Engine, InboundInfo } from '../core/engine';
import type { Flow } from '../core/pending';
import { buildResponse } from '../core/responses';
import { FLOW_PARAM, readFlowToken } from './flow-token';
import { decrementMaxForwards, DEFAULT_PORTS, flowOfConnection, isOurUri, popOwnRoutes, protocolOfVia, resolveFlow, routeUri, sendOn } from './proxy-sip';

const log = createLogger('proxy');

export type RouteVerdict = 'forwarded' | 'not-ours' | 'not-routed';

export class StatelessForwarder {
  /** Per-process secret mixed into derived branches so they cannot be predicted. */
  private readonly salt = randomBytes(16).toString('hex');

  constructor(private readonly e: Engine) {}

  /**
   * §16.11: "the branch ID ... MUST be the same for retransmissions of a request": derive it
   * from what identifies the incoming transaction (its top Via branch and sent-by, or for
   * RFC 2543 peers the §17.2.3 fields). A CANCEL or a non-2xx ACK shares its INVITE's branch
   * upstream and therefore gets the same derived branch downstream, so it matches there too.
   */
  branchFor(req: SipRequest): string {
    const top = req.getHeaderValues('Via')[0] ?? '';
    let input: string;
    try {
      const via = parseVia(top);
      const branch = via.params.get('branch') ?? '';
      if (branch.startsWith(MAGIC_COOKIE)) input = `${branch}|${via.host}:${via.port ?? ''}`;
      else {
        const seq = parseCSeq(req.getHeader('CSeq') ?? '').seq;
        const method = req.method === 'ACK' || req.method === 'CANCEL' ? 'INVITE' : req.method;
        input = `${via.host}:${via.port ?? ''}|${branch}|${req.callId}|${seq}|${method}|${getTag(req.getHeader('From') ?? '') ?? ''}|${req.uri}`;
      }
    } catch {
      input = `${top}|${req.callId}|${req.getHeader('CSeq') ?? ''}`;
    }
    return `${MAGIC_COOKIE}sl${createHash('sha1').update(this.salt).update(input).digest('hex').slice(0, 24)}`;
  }

  /**
   * §16.4 route processing for requests inside a proxied dialog. Does not touch the request
   * unless it returns 'forwarded'.
   */
  forwardRequest(req: SipRequest, info: InboundInfo): RouteVerdict {
    const routes = req.getHeaderValues('Route');
    if (!routes.length) return 'not-routed';
    const top = routeUri(routes[0]);
    if (!top || !isOurUri(this.e, top)) {
      // drachtio §10.1 step 4: a foreign top Route is logged and otherwise ignored.
      log.info({ method: req.method, callId: req.callId, route: routes[0] }, 'top Route does not address this server; ignored');
      return 'not-ours';
    }
    if (!getTag(req.getHeader('To') ?? '') || !top.params.has('lr')) return 'not-routed';
    // Our own entries at the top: one, or two when we Record-Routed both sides (RFC 5658).
    let own = 0;
    let flowId: string | undefined;
    while (own < routes.length) {
      const u = routeUri(routes[own]);
      if (!u || !isOurUri(this.e, u) || !u.params.has('lr')) break;
      flowId ??= readFlowToken(u.params.get(FLOW_PARAM));
      own++;
    }
    // A flow token names the connection toward the previous hop of the other side; it is used
    // unless the request came in on that connection itself (RFC 5626 §5.3 logic).
    const pinned = flowId && flowId !== info.connection?.id ? this.e.transportLayer.getConnection(flowId) : undefined;
    let nextHop: SipUri | undefined;
    let strictNext = false;
    if (own < routes.length) {
      nextHop = routeUri(routes[own]);
      strictNext = !!nextHop && !nextHop.params.has('lr');
    } else {
      nextHop = tryParseUri(req.uri);
      // Nothing left but a Request-URI naming us: the request is for this server as a UA.
      if (!nextHop || isOurUri(this.e, nextHop)) return 'not-routed';
    }
    const branch = this.branchFor(req);
    if (req.method === 'BYE') this.e.cdrs.emit('cdr:stop', 'network', 'normal-release', req);
    popOwnRoutes(this.e, req, true);
    if (!nextHop) {
      this.reject(req, info, 400, 'Bad Request - malformed Route');
      return 'forwarded';
    }
    if (strictNext) {
      // §16.6 step 6 / §12.2.1.1: the next hop is a strict router - it takes the Request-URI
      // slot, and the Request-URI goes to the end of the route set.
      req.shiftHeaderValue('Route');
      req.addHeader('Route', `<${req.uri}>`);
      req.uri = nextHop.toString();
    }
    // §16.3 step 3 / §16.6 step 3.
    if (!decrementMaxForwards(req)) {
      this.reject(req, info, 483);
      return 'forwarded';
    }
    const cacheKey = own < routes.length && !strictNext ? undefined : req.uri;
    void this.send(req, info, nextHop, branch, cacheKey, pinned);
    return 'forwarded';
  }

  private async send(req: SipRequest, info: InboundInfo, nextHop: SipUri, branch: string, cacheKey: string | undefined, pinned?: Connection): Promise<void> {
    let flow: Flow;
    try {
      flow = pinned && !pinned.closed ? flowOfConnection(pinned) : await resolveFlow(this.e, nextHop, cacheKey);
    } catch (err) {
      log.info({ method: req.method, callId: req.callId, nextHop: nextHop.toString(), err: (err as Error).message }, 'in-dialog request not forwarded');
      this.reject(req, info, nextHop.host.endsWith('.invalid') ? 480 : 503);
      return;
    }
    req.prependHeader('Via', this.e.dialogSender.via(flow, branch));
    try {
      await sendOn(this.e, flow, req);
    } catch (err) {
      log.info({ method: req.method, callId: req.callId, err: (err as Error).message }, 'in-dialog request could not be sent');
      req.shiftHeaderValue('Via');
      this.reject(req, info, 503);
      return;
    }
    if (req.method === 'BYE') this.e.cdrs.emit('cdr:stop', 'application', 'normal-release', req);
  }

  /** Stateless error response toward the sender (never for ACK, §17). */
  private reject(req: SipRequest, info: InboundInfo, status: number, reason?: string): void {
    if (req.method === 'ACK') return;
    this.e.sendStatelessResponse(buildResponse(req, status, reason, this.e.newTag()), info);
  }

  /**
   * §16.7 step 3 for responses no transaction claims: our Via on top and another below ->
   * remove ours and send it to the next Via's received/rport, or its sent-by (§18.2.2).
   */
  forwardResponse(res: SipResponse): boolean {
    const vias = res.getHeaderValues('Via');
    if (vias.length < 2) return false;
    let top: Via;
    let next: Via;
    try {
      top = parseVia(vias[0]);
      next = parseVia(vias[1]);
    } catch {
      return false;
    }
    const topProtocol = protocolOfVia(top.transport);
    if (!topProtocol || !isLocalHost(this.e.transports, top.host, top.port ?? DEFAULT_PORTS[topProtocol])) return false;
    const protocol = protocolOfVia(next.transport);
    if (!protocol) {
      log.info({ transport: next.transport, callId: res.callId }, 'response for an unsupported Via transport dropped');
      return true;
    }
    res.shiftHeaderValue('Via');
    void this.sendResponse(res, next, protocol).catch((err: Error) =>
      log.info({ status: res.status, callId: res.callId, err: err.message }, 'response not forwarded upstream'),
    );
    return true;
  }

  private async sendResponse(res: SipResponse, via: Via, protocol: Protocol): Promise<void> {
    const received = via.params.get('received') || undefined;
    const rport = via.params.get('rport');
    const sentByHost = stripBrackets(via.host);
    const sentByPort = via.port ?? DEFAULT_PORTS[protocol];
    let address = received ?? sentByHost;
    let port = rport ? Number(rport) : sentByPort;
    if (protocol !== 'udp') {
      // §18.2.2: reliable transports reuse the connection the request came in on.
      const c = this.e.transportLayer.findConnection(protocol, address, port);
      if (c) {
        await sendOn(this.e, { protocol, address, port, transport: c.transport, connection: c }, res);
        return;
      }
      if (protocol === 'ws' || protocol === 'wss') throw new Error('the websocket connection is gone');
      // Otherwise open a connection to the sent-by (§18.2.2, RFC 3263 §5).
      address = received ?? sentByHost;
      port = sentByPort;
    }
    const dest = await resolveUri(new SipUri({ scheme: 'sip', host: address, port }), this.e.config.hostAliases);
    const transport = selectTransport(this.e.transports, protocol, dest.address);
    if (!transport) throw new Error(`no ${protocol} transport`);
    await sendOn(this.e, { protocol, address: dest.address, port, transport }, res);
  }
}
