/**
 * Byte-level constants and predicates the framers share. Everything here works on Buffers; no
 * message is ever turned into a string on the receive path.
 */

export const CR = 0x0d;
export const LF = 0x0a;

/** RFC 5626 §3.5.1 keepalive "ping" (double CRLF) and "pong" (single CRLF). */
export const CRLF = Buffer.from('\r\n', 'latin1');
export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * RFC 3261 §25.1 `token` characters. A SIP message starts with a Method (a token) or with
 * "SIP/2.0" (also token characters up to the '/'), so any other first byte means the peer is
 * not speaking SIP and the stream cannot be resynchronised.
 */
const TOKEN_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const extra = "-.!%*_+`'~";
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (let i = 0; i < extra.length; i++) t[extra.charCodeAt(i)] = 1;
  return t;
})();

export function isTokenByte(b: number): boolean {
  return TOKEN_TABLE[b] === 1;
}

/** True when the buffer is non-empty and holds nothing but CR and LF bytes. */
export function isOnlyCrLf(buf: Buffer): boolean {
  if (buf.length === 0) return false;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b !== CR && b !== LF) return false;
  }
  return true;
}

/** True when buf[pos..pos+3] is CRLFCRLF. */
export function isDoubleCrlfAt(buf: Buffer, pos: number): boolean {
  return buf[pos] === CR && buf[pos + 1] === LF && buf[pos + 2] === CR && buf[pos + 3] === LF;
}

/** True when buf[pos..end) (1 to 3 bytes) could still grow into a CRLFCRLF ping. */
export function isPartialDoubleCrlf(buf: Buffer, pos: number, end: number): boolean {
  const n = end - pos;
  if (n <= 0 || n >= 4) return false;
  for (let i = 0; i < n; i++) {
    if (buf[pos + i] !== ((i & 1) === 0 ? CR : LF)) return false;
  }
  return true;
}

const CONTENT_LENGTH_LOWER = Buffer.from('content-length', 'latin1');

/** Case-insensitive compare of buf[pos..] with an all-lower-case ASCII name. */
function matchesLowerName(buf: Buffer, pos: number, end: number, name: Buffer): boolean {
  if (end - pos < name.length) return false;
  for (let i = 0; i < name.length; i++) {
    if ((buf[pos + i] | 0x20) !== name[i]) return false;
  }
  return true;
}

/** Result of scanning a header block for Content-Length. */
export const CONTENT_LENGTH_ABSENT = -1;
export const CONTENT_LENGTH_INVALID = -2;

/** Anything above this is reported as "too big" without risking integer overflow. */
const CONTENT_LENGTH_CAP = 0x7fffffff;

/**
 * Find the Content-Length (or compact `l`, RFC 3261 §7.3.3) value in the header block
 * buf[start..headerEnd), where headerEnd is the index of the terminating CRLFCRLF. The start
 * line is skipped. Header names are case-insensitive (RFC 3261 §7.3.1); the value is 1*DIGIT
 * (RFC 3261 §20.14). Returns the value, CONTENT_LENGTH_ABSENT or CONTENT_LENGTH_INVALID.
 */
export function scanContentLength(buf: Buffer, start: number, headerEnd: number): number {
  let nl = buf.indexOf(LF, start);
  while (nl !== -1 && nl < headerEnd) {
    const ls = nl + 1;
    const first = buf[ls] | 0x20;
    let p = -1;
    if (first === 0x6c /* l */) p = ls + 1;
    else if (first === 0x63 /* c */ && matchesLowerName(buf, ls, headerEnd, CONTENT_LENGTH_LOWER)) {
      p = ls + CONTENT_LENGTH_LOWER.length;
    }
    if (p !== -1) {
      while (p < headerEnd && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
      if (buf[p] === 0x3a /* : */) return parseDigits(buf, p + 1, headerEnd);
    }
    nl = buf.indexOf(LF, ls);
  }
  return CONTENT_LENGTH_ABSENT;
}

/** Parse `LWS 1*DIGIT LWS` up to the end of the line. */
function parseDigits(buf: Buffer, from: number, headerEnd: number): number {
  let p = from;
  while (p < headerEnd && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
  let value = 0;
  let digits = 0;
  while (p < headerEnd) {
    const b = buf[p];
    if (b < 0x30 || b > 0x39) break;
    if (value < CONTENT_LENGTH_CAP) value = Math.min(value * 10 + (b - 0x30), CONTENT_LENGTH_CAP);
    digits++;
    p++;
  }
  if (digits === 0) return CONTENT_LENGTH_INVALID;
  while (p < headerEnd && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
  return buf[p] === CR ? value : CONTENT_LENGTH_INVALID; // buf[headerEnd] is the CR of CRLFCRLF
}
