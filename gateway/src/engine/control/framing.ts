/**
 * drachtio control-port framing (drachtio-protocol §1.2): `<N>#<payload>`, N = payload length in
 * UTF-8 bytes. Frames may be split anywhere and several may arrive in one read.
 */

export class FrameError extends Error {}

export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes = 16 * 1024 * 1024) {}

  /** Feed bytes; returns every complete payload. Throws FrameError on a corrupt prefix. */
  push(chunk: Buffer): string[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: string[] = [];
    for (;;) {
      const hash = this.buffer.indexOf(0x23); // '#'
      if (hash < 0) {
        if (this.buffer.length > 12) throw new FrameError('missing length prefix');
        if (!/^\d*$/.test(this.buffer.toString('latin1'))) throw new FrameError('non-digit in length prefix');
        break;
      }
      const prefix = this.buffer.toString('latin1', 0, hash);
      if (!/^\d{1,12}$/.test(prefix)) throw new FrameError(`invalid length prefix '${prefix.slice(0, 20)}'`);
      const length = Number(prefix);
      if (length <= 0 || length > this.maxFrameBytes) throw new FrameError(`invalid frame length ${length}`);
      const end = hash + 1 + length;
      if (this.buffer.length < end) break;
      out.push(this.buffer.toString('utf8', hash + 1, end));
      this.buffer = this.buffer.subarray(end);
    }
    return out;
  }
}
