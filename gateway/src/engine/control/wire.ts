/**
 * Leader layouts of every server->app message (drachtio-protocol §2, §5, §6). Fields are
 * positional and empty tokens and trailing '|' are significant, so each layout lives here once.
 */
import { randomUUID } from 'node:crypto';

export const CRLF = '\r\n';

/** Time of day `HH:MM:SS.uuuuuu` in UTC, as the server stamps messages (§4.3). */
export function wireTime(date = new Date()): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds() * 1000, 6)}`;
}

export function newMsgId(): string {
  return randomUUID();
}

/** Transport as reported to apps: ws and wss count as tcp (§11.5). */
export function wireProtocol(protocol: string): string {
  return protocol === 'udp' || protocol === 'tls' ? protocol : 'tcp';
}

export interface WireMeta {
  source: 'network' | 'application';
  bytes: number;
  protocol: string;
  address: string;
  port: number | string;
  time?: string;
}

export function ok(msgId: string, ...fields: string[]): string {
  return [newMsgId(), 'response', msgId, 'OK', ...fields].join('|');
}

export function nok(msgId: string, reason: string): string {
  return `${newMsgId()}|response|${msgId}|NOK|${reason}`;
}

export function no(msgId: string, reason: string): string {
  return `${newMsgId()}|response|${msgId}|NO|${reason}`;
}

/** OK echo for an app-sent request (§4.3). */
export function requestSent(msgId: string, m: WireMeta, txnId: string, sip: string): string {
  return `${newMsgId()}|response|${msgId}|OK|application|${m.bytes}|${wireProtocol(m.protocol)}|${m.address}|${m.port}|${m.time ?? wireTime()}|${txnId}|Msg sent:|${CRLF}${sip}`;
}

/** OK echo for an app-sent response (§4.6): carries the dialogId. */
export function responseSent(msgId: string, m: WireMeta, txnId: string, dialogId: string, sip: string): string {
  return `${newMsgId()}|response|${msgId}|OK|application|${m.bytes}|${wireProtocol(m.protocol)}|${m.address}|${m.port}|${m.time ?? wireTime()}|${txnId}|${dialogId}||Msg sent:|${CRLF}${sip}`;
}

/** Server->app `sip` message (§5.1); receivedOn only for new out-of-dialog requests. */
export function sipMessage(m: WireMeta, txnId: string, dialogId: string, sip: string, receivedOn?: { address: string; port: number }): string {
  const tail = receivedOn ? `${receivedOn.address}|${receivedOn.port}|` : '';
  return `${newMsgId()}|sip|${m.source}|${m.bytes}|${wireProtocol(m.protocol)}|${m.address}|${m.port}|${m.time ?? wireTime()}|${txnId}|${dialogId}|${tail}${CRLF}${sip}`;
}

/** One final response reported during a proxy operation (§6, §7.2). */
export function proxyContinue(msgId: string, m: WireMeta, sip: string): string {
  return `${newMsgId()}|response|${msgId}|OK|network|${m.bytes}|${wireProtocol(m.protocol)}|${m.address}|${m.port}|${m.time ?? wireTime()}|||continue${CRLF}${sip}`;
}

export function proxyDone(msgId: string): string {
  return `${newMsgId()}|response|${msgId}|OK|done`;
}

export type CdrKind = 'cdr:attempt' | 'cdr:start' | 'cdr:stop';

/** CDR frame (§8): the role/reason token is absent for attempts. */
export function cdr(kind: CdrKind, source: 'network' | 'application', extra: string | undefined, sip: string): string {
  const tokens = [newMsgId(), kind, source, wireTime()];
  if (kind !== 'cdr:attempt' && extra !== undefined) tokens.push(extra);
  return `${tokens.join('|')}${CRLF}${sip}`;
}

/** Split an app payload into leader tokens and the attached SIP text (§1.3, §1.4). */
export function splitPayload(payload: string): { tokens: string[]; sip: string } {
  const pos = payload.indexOf('\r\n');
  const leader = pos < 0 ? payload : payload.slice(0, pos);
  return { tokens: leader.split('|'), sip: pos < 0 ? '' : payload.slice(pos + 2) };
}
