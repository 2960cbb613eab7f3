/**
 * Bencode, the encoding of rtpengine's ng control protocol (each datagram is `<cookie> <bencoded dict>`).
 *
 * Hand-written on purpose: the `bencode` package that npm resolves today (4.x) is ESM-only, and the
 * 2.x copy in node_modules is an undeclared transitive dependency of rtpengine-client. The format is
 * four productions, so a small, strict codec is easier to keep correct than either of those.
 *
 * Decoding turns byte strings into UTF-8 JS strings (everything rtpengine sends is text: SDP, tags,
 * reasons), integers into numbers, lists into arrays and dictionaries into plain objects.
 */

export type BencodeValue = string | number | BencodeValue[] | { [key: string]: BencodeValue };

/** What encode() accepts: like BencodeValue, plus Buffers and undefined dictionary members (skipped). */
export type BencodeInput =
  | string
  | number
  | Buffer
  | readonly BencodeInput[]
  | { readonly [key: string]: BencodeInput | undefined };

function encodeInto(value: BencodeInput, out: Buffer[]): void {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    out.push(Buffer.from(`${bytes.length}:`), bytes);
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`bencode: only integers can be encoded, got ${value}`);
    out.push(Buffer.from(`i${value}e`));
  } else if (Buffer.isBuffer(value)) {
    out.push(Buffer.from(`${value.length}:`), value);
  } else if (Array.isArray(value)) {
    out.push(Buffer.from('l'));
    for (const item of value as readonly BencodeInput[]) encodeInto(item, out);
    out.push(Buffer.from('e'));
  } else if (typeof value === 'object' && value !== null) {
    out.push(Buffer.from('d'));
    const dict = value as { readonly [key: string]: BencodeInput | undefined };
    // the spec wants keys in byte order; rtpengine does not care, but other decoders might
    for (const key of Object.keys(dict).sort()) {
      const member = dict[key];
      if (member === undefined) continue;
      encodeInto(key, out);
      encodeInto(member, out);
    }
    out.push(Buffer.from('e'));
  } else {
    throw new TypeError(`bencode: cannot encode a value of type ${typeof value}`);
  }
}

export function bencode(value: BencodeInput): Buffer {
  const out: Buffer[] = [];
  encodeInto(value, out);
  return Buffer.concat(out);
}

const COLON = 0x3a;
const LETTER_E = 0x65;

class Decoder {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  private fail(what: string): never {
    throw new SyntaxError(`bencode: ${what} at offset ${this.pos}`);
  }

  private readDigitsUntil(terminator: number): string {
    const end = this.buf.indexOf(terminator, this.pos);
    if (end < 0) this.fail('unterminated number');
    const text = this.buf.toString('latin1', this.pos, end);
    if (!/^-?\d+$/.test(text)) this.fail(`bad number '${text}'`);
    this.pos = end + 1;
    return text;
  }

  value(): BencodeValue {
    if (this.pos >= this.buf.length) this.fail('unexpected end of input');
    const lead = this.buf[this.pos];
    if (lead === 0x69 /* i */) {
      this.pos += 1;
      return Number(this.readDigitsUntil(LETTER_E));
    }
    if (lead === 0x6c /* l */) {
      this.pos += 1;
      const list: BencodeValue[] = [];
      while (this.buf[this.pos] !== LETTER_E) list.push(this.value());
      this.pos += 1;
      return list;
    }
    if (lead === 0x64 /* d */) {
      this.pos += 1;
      const dict: { [key: string]: BencodeValue } = {};
      while (this.buf[this.pos] !== LETTER_E) {
        const key = this.value();
        if (typeof key !== 'string') this.fail('dictionary key is not a string');
        dict[key] = this.value();
      }
      this.pos += 1;
      return dict;
    }
    if (lead !== undefined && lead >= 0x30 && lead <= 0x39) {
      const length = Number(this.readDigitsUntil(COLON));
      if (this.pos + length > this.buf.length) this.fail('string runs past the end of input');
      const text = this.buf.toString('utf8', this.pos, this.pos + length);
      this.pos += length;
      return text;
    }
    return this.fail(`unexpected byte 0x${(lead ?? 0).toString(16)}`);
  }
}

/** Decodes exactly one value starting at `start`; trailing bytes are an error. */
export function bdecode(buf: Buffer, start = 0): BencodeValue {
  const decoder = new Decoder(buf, start);
  const value = decoder.value();
  if (decoder.offset !== buf.length) throw new SyntaxError(`bencode: trailing data at offset ${decoder.offset}`);
  return value;
}
