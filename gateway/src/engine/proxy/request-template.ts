/**
 * The part of request forwarding shared by every branch (RFC 3261 §16.6 steps 1, 3 and the
 * §16.4 route pre-processing); per-target parts live in proxy-branch.ts.
 */
import type { SipHeader, SipRequest } from '../sip/message';
import type { Engine, InboundInfo } from '../core/engine';
import { cloneRequest, decrementMaxForwards, isOurUri, popOwnRoutes } from './proxy-sip';

export interface RequestTemplate {
  /** Copy of the received request with our pre-loaded Routes removed and Max-Forwards decremented. */
  base: SipRequest;
  /** The Request-URI addresses this server, so each target replaces it (drachtio §7.2). */
  ruriIsLocal: boolean;
  recordRoute: boolean;
  appHeaders: readonly SipHeader[];
  /** Where the request came from (the inbound side of a double Record-Route). */
  inbound: InboundInfo;
}

export function buildTemplate(e: Engine, received: SipRequest, inbound: InboundInfo, recordRoute: boolean, appHeaders: readonly SipHeader[]): RequestTemplate {
  // §16.6 step 1: "Make a copy of the received request".
  const base = cloneRequest(received);
  // §16.4: a Route at the top that names us was meant for us; it is consumed here (with or
  // without lr: a pre-loaded route set toward this proxy, drachtio-protocol §7.2).
  popOwnRoutes(e, base, false);
  // §16.6 step 3 (the 0 case was refused before we got here, §16.3 step 3).
  decrementMaxForwards(base);
  return { base, ruriIsLocal: isOurUri(e, base.uri), recordRoute, appHeaders, inbound };
}
