import type { SipRequest, SipResponse } from './message';

/**
 * Thrown by the message parser and by the URI / header grammar readers.
 *
 * `status` is the response a UAS should answer a request with (RFC 3261 §21.4): 400 by default,
 * 505 for an unsupported SIP-Version (§21.5.6), 416 for an unsupported URI scheme (§8.2.2.1),
 * 413 / 513 when a size limit is exceeded (§21.4.11, §21.5.14). Responses that fail to parse are
 * simply dropped (§18.1.2), so `status` does not matter for them.
 *
 * `partial` carries what could be read (start line and the header lines that did parse) so the
 * caller can build the error response with Via, From, To, Call-ID and CSeq (§8.2.6.2).
 */
export class SipParseError extends Error {
  constructor(
    message: string,
    readonly isRequest?: boolean,
    readonly partial?: SipRequest | SipResponse,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}
