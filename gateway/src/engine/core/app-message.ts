/**
 * Parse the SIP text an app attaches to a `sip` or `proxy` command (drachtio-protocol §1.4).
 * Unlike the wire parser this ignores Content-Length (srf counts UTF-16 units, §1.3): the body
 * is everything after the blank line. Header names with non-token characters are dropped.
 */
import type { SipHeader } from '../sip/message';

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export interface AppMessage {
  startLine: string;
  headers: SipHeader[];
  body: Buffer;
}

export function splitAppMessage(text: string): AppMessage {
  let sep = text.indexOf('\r\n\r\n');
  let sepLen = 4;
  if (sep < 0) {
    sep = text.indexOf('\n\n');
    sepLen = 2;
  }
  const head = sep < 0 ? text : text.slice(0, sep);
  const body = sep < 0 ? '' : text.slice(sep + sepLen);
  const lines = head.split(/\r?\n/);
  const startLine = (lines.shift() ?? '').trim();
  const headers: SipHeader[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    if ((line[0] === ' ' || line[0] === '\t') && headers.length) {
      headers[headers.length - 1].value += ' ' + line.trim(); // folded line
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) continue;
    headers.push({ name, value: line.slice(colon + 1).trim() });
  }
  return { startLine, headers, body: Buffer.from(body, 'utf8') };
}

export function isResponseLine(startLine: string): boolean {
  return startLine.startsWith('SIP/');
}

/** Status line of an app response; throws on garbage. */
export function parseStatusLine(startLine: string): { status: number; reason: string } {
  const m = /^SIP\/2\.0\s+(\d{3})(?:\s+(.*))?$/i.exec(startLine);
  if (!m) throw new Error(`invalid status line: ${startLine}`);
  return { status: Number(m[1]), reason: (m[2] ?? '').trim() };
}

/** Request line of an app request; throws on garbage. */
export function parseRequestLine(startLine: string): { method: string; uri: string } {
  const m = /^([A-Za-z]+)\s+(\S+)(?:\s+SIP\/2\.0)?$/i.exec(startLine);
  if (!m) throw new Error(`invalid request line: ${startLine}`);
  return { method: m[1].toUpperCase(), uri: m[2] };
}

export function appHeader(msg: AppMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  return msg.headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

