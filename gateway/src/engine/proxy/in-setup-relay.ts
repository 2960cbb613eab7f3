/**
 * Requests inside an early dialog of a proxied INVITE (INFO, PRACK, UPDATE) that reach us without
 * a Route of ours: relayed statefully to the branch that created that early dialog
 * (drachtio-protocol §7.2 "INFO during set-up"; RFC 3261 §16 with our own server and client
 * transactions, so retransmissions are absorbed and responses flow back).
 */
import type { SipRequest } from '../sip/message';
import { NonInviteClientTransaction } from '../transaction/non-invite-client';
import { clientKeyFor, newBranch } from '../transaction/transaction-layer';
import type { Engine, InboundInfo } from '../core/engine';
import { buildResponse } from '../core/responses';
import type { ProxyBranch } from './proxy-branch';
import { cloneRequest, decrementMaxForwards, isOurUri, popOwnRoutes, upstreamCopy } from './proxy-sip';

export function relayToBranch(e: Engine, req: SipRequest, info: InboundInfo, b: ProxyBranch, toTag: string): void {
  const flow = b.flow!;
  const nist = e.networkRequests.createServerTransaction(req, info);
  const fwd = cloneRequest(req);
  popOwnRoutes(e, fwd, false);
  if (!decrementMaxForwards(fwd)) {
    nist.respond(buildResponse(req, 483, undefined, toTag));
    return;
  }
  // The branch's Request-URI when the request was addressed to us (§16.6 step 2).
  if (isOurUri(e, fwd.uri) && b.req) fwd.uri = b.req.uri;
  const branch = newBranch();
  fwd.prependHeader('Via', e.dialogSender.via(flow, branch));
  const channel = e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection);
  const nict = new NonInviteClientTransaction(e.newTxnId(), clientKeyFor(branch, fwd.method), fwd, channel, e.timers, {
    onResponse: (res) => {
      if (res.status > 100) nist.respond(upstreamCopy(res)); // §16.7 step 3
    },
    onTimeout: () => nist.respond(buildResponse(req, 408, undefined, toTag)),
    onTransportError: () => nist.respond(buildResponse(req, 503, undefined, toTag)),
  });
  e.txns.addClient(nict);
  nict.start();
}
