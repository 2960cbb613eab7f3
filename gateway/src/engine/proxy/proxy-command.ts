/**
 * The `proxy` command an app sends for `srf.proxyRequest` (drachtio-protocol §7.1):
 *
 *   msgId|proxy|<txnId>|<remainInDialog>|<fullResponse>|<followRedirects>|<simultaneous|serial>
 *        |<provisionalTimeout>|<finalTimeout>|<dest1>|<dest2>...
 *   CRLF + a request line and the extra headers to add to every forwarded request.
 */
import type { SipHeader } from '../sip/message';
import { splitAppMessage } from '../core/app-message';

export interface ProxyOptions {
  txnId: string;
  /** Record-Route (Path for REGISTER) so in-dialog requests come through us. */
  recordRoute: boolean;
  /** Report every final response (`continue`) before `done`; srf 5 always asks for it. */
  fullResponse: boolean;
  followRedirects: boolean;
  simultaneous: boolean;
  /** Serial forking moves on when a target sent no provisional response in this time. */
  provisionalTimeoutMs?: number;
  /** Accepted and parsed; unused, like drachtio-server (§7.1). */
  finalTimeoutMs?: number;
  targets: string[];
  /** Headers the app wants added to each forwarded request (drachtio-protocol §4.7 rules). */
  headers: SipHeader[];
}

/** `^\d+(ms|s)$` -> milliseconds; anything else (including empty) -> undefined. */
export function parseDuration(text: string | undefined): number | undefined {
  const m = /^(\d+)(ms|s)$/.exec((text ?? '').trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : n;
}

/** A destination without a scheme gets `sip:` (srf does this too, §7.1 field 9). */
export function normalizeTarget(dest: string): string {
  const d = dest.trim();
  return /^[a-z][a-z0-9+.-]*:/i.test(d) && !/^[^:@]+:\d+$/.test(d) ? d : `sip:${d}`;
}

export function parseProxyCommand(tokens: readonly string[], sip: string): ProxyOptions {
  const t = (i: number) => tokens[i] ?? '';
  const targets = tokens
    .slice(9)
    .map((d) => d.trim())
    .filter(Boolean)
    .map(normalizeTarget);
  return {
    txnId: t(2),
    recordRoute: t(3) === 'remainInDialog',
    fullResponse: t(4) === 'fullResponse',
    followRedirects: t(5) === 'followRedirects',
    simultaneous: t(6) === 'simultaneous',
    provisionalTimeoutMs: parseDuration(t(7)),
    finalTimeoutMs: parseDuration(t(8)),
    targets,
    headers: sip ? splitAppMessage(sip).headers : [],
  };
}
