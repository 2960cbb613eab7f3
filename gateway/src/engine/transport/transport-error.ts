/** The one error type the transport layer rejects with. */

export type TransportErrorCode = 'ECLOSED' | 'ECONNECT' | 'ETOOBIG' | 'ENOTRANSPORT' | 'EIO';

export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: TransportErrorCode,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}
