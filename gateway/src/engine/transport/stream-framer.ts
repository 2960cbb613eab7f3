/**
 * SIP message framing on a byte stream (RFC 3261 §18.3): headers end at the first CRLFCRLF,
 * the body is exactly Content-Length bytes (absent means 0 here, since on a stream the header
 * is mandatory and a missing one can only mean "no body"). CRLFs between messages are skipped
 * (RFC 3261 §7.5); a CRLFCRLF at a message boundary is an RFC 5626 §3.5.1 keepalive ping.
 *
 * Performance: messages that arrive whole inside one chunk are handed out as zero-copy
 * sub-views of that chunk. Only a partial message is copied, into an accumulator that grows by
 * doubling; the CRLFCRLF search resumes where it stopped, so a message trickling in byte by
 * byte costs O(n), not O(n²). No string is built from message bytes.
 */
import {
  CONTENT_LENGTH_ABSENT,
  CONTENT_LENGTH_INVALID,
  CR,
  CRLFCRLF,
  LF,
  isDoubleCrlfAt,
  isPartialDoubleCrlf,
  isTokenByte,
  scanContentLength,
} from './wire-bytes';

export interface StreamFramerSink {
  /** One complete SIP message; the buffer may be a view into a larger one and is not reused. */
  onFrame(message: Buffer): void;
  /** A CRLFCRLF keepalive ping was received; answer with a single CRLF. */
  onPing(): void;
  /** The stream cannot be framed any further; the connection must be closed. */
  onFramingError(reason: string): void;
}

const MIN_ACCUMULATOR = 4096;

export class SipStreamFramer {
  /** Bytes of a message (or of a ping) not complete yet; valid range [0, pendingLen). */
  private pending: Buffer | undefined;
  private pendingLen = 0;
  /** Bytes of the current message already searched for CRLFCRLF; 0 = at a message boundary. */
  private scanned = 0;
  /** Total length of the current message once its headers are read; -1 before. */
  private total = -1;
  private stopped = false;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly sink: StreamFramerSink,
  ) {}

  /** Bytes held waiting for the rest of a message (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.pendingLen;
  }

  /** Stop framing (connection closed); later pushes are ignored and the buffer is released. */
  stop(): void {
    this.stopped = true;
    this.pending = undefined;
    this.pendingLen = 0;
  }

  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    let buf: Buffer;
    if (this.pendingLen === 0) {
      buf = chunk;
    } else {
      this.append(chunk);
      buf = (this.pending as Buffer).subarray(0, this.pendingLen);
    }
    const consumed = this.drain(buf);
    if (this.stopped) return;
    const left = buf.length - consumed;
    if (left === 0) {
      this.pending = undefined;
      this.pendingLen = 0;
    } else if (buf === chunk || consumed > 0) {
      // Keep the tail in a fresh buffer: messages handed out may still view the old one.
      const acc = Buffer.allocUnsafe(Math.max(MIN_ACCUMULATOR, left * 2));
      buf.copy(acc, 0, consumed);
      this.pending = acc;
      this.pendingLen = left;
    }
    // else: nothing consumed from the accumulator; it already holds exactly the tail.
  }

  private append(chunk: Buffer): void {
    const acc = this.pending as Buffer;
    const need = this.pendingLen + chunk.length;
    if (need > acc.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, acc.length * 2));
      acc.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    chunk.copy(this.pending as Buffer, this.pendingLen);
    this.pendingLen = need;
  }

  private fail(reason: string): void {
    this.stop();
    this.sink.onFramingError(reason);
  }

  /** Frame as many messages as buf holds; returns the number of bytes consumed. */
  private drain(buf: Buffer): number {
    const end = buf.length;
    let pos = 0;
    while (pos < end && !this.stopped) {
      if (this.total < 0) {
        if (this.scanned === 0) {
          const b = buf[pos];
          if (b === CR || b === LF) {
            if (isDoubleCrlfAt(buf, pos)) {
              pos += 4;
              this.sink.onPing();
              continue;
            }
            if (isPartialDoubleCrlf(buf, pos, end)) break; // maybe a ping split across reads
            pos += 1; // RFC 3261 §7.5: ignore CRLF before a message (e.g. an RFC 5626 pong)
            continue;
          }
          if (!isTokenByte(b)) {
            this.fail(`stream does not start a SIP message (byte 0x${b.toString(16)})`);
            return pos;
          }
        }
        const from = pos + (this.scanned > 3 ? this.scanned - 3 : 0);
        const headerEnd = buf.indexOf(CRLFCRLF, from);
        if (headerEnd === -1) {
          if (end - pos > this.maxMessageBytes) {
            this.fail(`header section exceeds ${this.maxMessageBytes} bytes`);
            return pos;
          }
          this.scanned = end - pos;
          break;
        }
        const headerLen = headerEnd + 4 - pos;
        if (headerLen > this.maxMessageBytes) {
          this.fail(`header section of ${headerLen} bytes exceeds ${this.maxMessageBytes}`);
          return pos;
        }
        let contentLength = scanContentLength(buf, pos, headerEnd);
        if (contentLength === CONTENT_LENGTH_INVALID) {
          this.fail('invalid Content-Length');
          return pos;
        }
        if (contentLength === CONTENT_LENGTH_ABSENT) contentLength = 0;
        if (headerLen + contentLength > this.maxMessageBytes) {
          this.fail(`Content-Length ${contentLength} makes the message exceed ${this.maxMessageBytes} bytes`);
          return pos;
        }
        this.total = headerLen + contentLength;
      }
      if (end - pos < this.total) break;
      const message = buf.subarray(pos, pos + this.total);
      pos += this.total;
      this.total = -1;
      this.scanned = 0;
      this.sink.onFrame(message);
    }
    return pos;
  }
}
