/**
 * SIP message parser (RFC 3261 §7 and the grammar of §25), framing one message out of a buffer that
 * holds a UDP datagram or one message cut from a stream by the transport.
 *
 * What it does, and deliberately does not do:
 * - It splits the start line and the header lines and undoes line folding; header VALUES are not
 *   parsed here (that is done lazily by headers.ts / uri.ts when someone asks), except
 *   Content-Length, which frames the body.
 * - The head is decoded as UTF-8 (RFC 3261 §7.3.1: TEXT-UTF8); the body stays a Buffer.
 * - On error it throws SipParseError with `status` (the response a UAS should send) and `partial`
 *   (start line and every header line that did parse) so a 400 can echo Via/From/To/Call-ID/CSeq.
 *
 * Tolerances (RFC 4475 lets a receiver be liberal here; re-serialising drops the oddity):
 * - several SP between the parts of a Request-Line, and SP at its end (RFC 4475 §3.1.2.9, §3.1.2.10);
 * - white space before the colon of a header (allowed by HCOLON, RFC 3261 §25.1).
 */
import { isToken, isWsp } from './char-classes';
import { SipRequest, SipResponse, headerKey } from './message';
import { SipParseError } from './parse-error';

export { SipParseError } from './parse-error';

export interface ParseLimits {
  /** Largest whole message (head + body), in bytes. */
  maxMessageBytes: number;
  /** Most header fields (logical, after unfolding). */
  maxHeaders: number;
  /** Largest head (start line + headers, without the blank line), in bytes. */
  maxHeaderBytes: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = Object.freeze({
  maxMessageBytes: 65535,
  maxHeaders: 256,
  maxHeaderBytes: 16384,
});

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface PendingError {
  message: string;
  status: number;
}

/** Strip SP and HTAB at both ends (String.trim would also eat U+FEFF and other Unicode spaces). */
function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2);
 * Status-Code = 3DIGIT, 100 to 699 (§7.2, §21). The reason phrase may be empty (RFC 4475 §3.1.1.13).
 */
function parseStatusLine(line: string, note: (m: string, s?: number) => void): SipResponse {
  const sp = line.indexOf(' ');
  const version = sp < 0 ? line : line.slice(0, sp);
  if (version.toUpperCase() !== 'SIP/2.0') note('Unsupported SIP version in response');
  let i = sp < 0 ? line.length : sp;
  while (line.charCodeAt(i) === 32) i++;
  const codeStart = i;
  while (i < line.length && line.charCodeAt(i) !== 32) i++;
  const codeText = line.slice(codeStart, i);
  let status = 0;
  if (/^[1-6][0-9][0-9]$/.test(codeText)) status = Number(codeText);
  else note('Invalid status code');
  return new SipResponse(status, trimWsp(line.slice(i)));
}

/**
 * Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1). The Request-URI is only
 * cut out here; validateRequest parses it (so an unknown scheme can be answered 416, §8.2.2.1).
 */
function parseRequestLine(line: string, note: (m: string, s?: number) => void): SipRequest {
  if (isWsp(line.charCodeAt(0))) note('White space before the Request-Line');
  const parts = line.split(' ').filter((p) => p.length > 0);
  const method = parts[0] ?? '';
  const uri = parts.length === 3 ? parts[1] : '';
  const version = parts.length === 3 ? parts[2] : '';
  const req = new SipRequest(isToken(method) ? method : '', uri);
  if (parts.length !== 3) note('Malformed Request-Line');
  else if (!isToken(method)) note('Invalid method');
  else if (version.toUpperCase() !== 'SIP/2.0') {
    // "The SIP-Version string is case-insensitive" (§7.1); other versions get 505 (§21.5.6).
    const looksLikeSip = /^SIP\/[0-9]{1,5}\.[0-9]{1,5}$/i.test(version);
    note(looksLikeSip ? 'SIP Version Not Supported' : 'Malformed SIP-Version', looksLikeSip ? 505 : 400);
  }
  return req;
}

/**
 * Parse one SIP message. Throws SipParseError (never anything else) on malformed input.
 */
export function parseMessage(data: Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS): SipRequest | SipResponse {
  // "Implementations processing SIP messages over stream-oriented transports MUST ignore any CRLF
  // appearing before the start-line" (RFC 3261 §7.5); done for datagrams too (keep-alives).
  let start = 0;
  while (start + 1 < data.length && data[start] === 13 && data[start + 1] === 10) start += 2;
  if (start >= data.length) throw new SipParseError('Empty message');

  let error: PendingError | undefined;
  const note = (message: string, status = 400): void => {
    if (!error) error = { message, status };
  };

  // Find the blank line ending the head, searching no further than the head limit allows.
  const searchEnd = Math.min(data.length, start + limits.maxHeaderBytes + CRLFCRLF.length);
  const found = data.subarray(0, searchEnd).indexOf(CRLFCRLF, start);
  let headEnd = found;
  if (found < 0) {
    if (data.length - start > limits.maxHeaderBytes) note('Message head too large', 513);
    else note('Missing blank line after the headers');
    headEnd = searchEnd;
  }
  let text = data.toString('utf8', start, headEnd);
  if (found < 0) {
    // Keep only complete lines for the partial message.
    text = text.slice(0, Math.max(0, text.lastIndexOf('\r\n')));
  }
  const lines = text.split('\r\n');
  const startLine = lines[0];
  const looksLikeResponse = startLine.length >= 4 && startLine.slice(0, 4).toUpperCase() === 'SIP/';
  let msg: SipRequest | SipResponse;
  let isRequest: boolean | undefined;
  if (looksLikeResponse) {
    msg = parseStatusLine(startLine, note);
    isRequest = false;
  } else {
    const req = parseRequestLine(startLine, note);
    msg = req;
    isRequest = req.method ? true : undefined;
  }

  readHeaderLines(lines, msg, limits, note);

  const fail = (message: string, status = 400): never => {
    throw new SipParseError(message, isRequest, msg, status);
  };
  if (error) fail(error.message, error.status);

  // Body framing (RFC 3261 §18.3, §20.14).
  const bodyStart = headEnd + CRLFCRLF.length;
  const contentLength = readContentLength(msg, fail);
  if (contentLength === undefined) {
    if (data.length - start > limits.maxMessageBytes) fail('Message too large', 513);
    if (data.length > bodyStart) msg.body = ownedCopy(data.subarray(bodyStart));
    return msg;
  }
  if (bodyStart - start + contentLength > limits.maxMessageBytes) fail('Message body too large', 413);
  // "If a message is received with a Content-Length larger than the bytes received ... 400" over
  // datagrams (§18.3, RFC 4475 §3.1.2.2); octets beyond it are discarded (RFC 4475 §3.1.1.8).
  if (bodyStart + contentLength > data.length) fail('Content-Length larger than the message');
  if (contentLength > 0) msg.body = ownedCopy(data.subarray(bodyStart, bodyStart + contentLength));
  return msg;
}

/**
 * message-header = field-name HCOLON field-value CRLF; a line starting with SP or HTAB continues the
 * previous one (LWS = [*WSP CRLF] 1*WSP, §7.3.1, §25.1) and is joined with a single SP.
 * A bad line is noted and skipped so that the partial message still holds the lines after it.
 */
function readHeaderLines(
  lines: string[],
  msg: SipRequest | SipResponse,
  limits: ParseLimits,
  note: (m: string, s?: number) => void,
): void {
  let current: { name: string; value: string } | undefined;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
      note('Bare CR or LF in header');
      current = undefined;
      continue;
    }
    if (isWsp(line.charCodeAt(0))) {
      if (!current) {
        note('Continuation line without a header');
        continue;
      }
      const more = trimWsp(line);
      if (more) current.value = current.value ? `${current.value} ${more}` : more;
      continue;
    }
    const colon = line.indexOf(':');
    let nameEnd = colon;
    while (nameEnd > 0 && isWsp(line.charCodeAt(nameEnd - 1))) nameEnd--;
    const name = colon < 0 ? '' : line.slice(0, nameEnd);
    if (!isToken(name)) {
      note(colon < 0 ? 'Header line without a colon' : 'Invalid header name');
      current = undefined;
      continue;
    }
    if (msg.headers.length >= limits.maxHeaders) {
      note('Too many headers', 513);
      return;
    }
    current = { name, value: trimWsp(line.slice(colon + 1)) };
    msg.headers.push(current);
  }
}

/**
 * Content-Length = 1*DIGIT (§20.14). It may appear more than once only with the same value; a
 * negative, non-numeric or conflicting value is a framing error (RFC 4475 §3.1.2.3, §3.3.9).
 */
function readContentLength(msg: SipRequest | SipResponse, fail: (m: string, s?: number) => never): number | undefined {
  let length: number | undefined;
  for (const h of msg.headers) {
    if (headerKey(h.name) !== 'content-length') continue;
    const text = h.value;
    if (!/^[0-9]{1,10}$/.test(text)) fail('Invalid Content-Length');
    const value = Number(text);
    if (length !== undefined && value !== length) fail('Conflicting Content-Length values');
    length = value;
  }
  return length;
}

/**
 * A body copy that owns its memory. Buffer.from() of a small slice lands in Node's shared 8 KiB
 * pool, and transactions keep messages for 32 s (Timers J/L): each body would pin a whole block.
 */
function ownedCopy(src: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(src.length);
  src.copy(out);
  return out;
}
