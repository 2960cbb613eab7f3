/**
 * Loads the PEM key / certificate / chain files of a tls or wss listener (drachtio's
 * --key-file, --cert-file, --chain-file). The chain is appended to the certificate so the
 * peer receives the full path (RFC 5246 §7.4.2 certificate_list order).
 */
import { readFile } from 'node:fs/promises';
import type { ListenSpec } from './types';

export interface TlsCredentials {
  key: Buffer;
  cert: Buffer;
}

export async function loadTlsCredentials(spec: ListenSpec): Promise<TlsCredentials> {
  const files = spec.tls;
  if (!files || !files.keyFile || !files.certFile) {
    throw new Error(`${spec.protocol} listener on ${spec.host}:${spec.port} needs tls.keyFile and tls.certFile`);
  }
  const read = async (what: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`cannot read TLS ${what} file ${path}: ${(err as Error).message}`);
    }
  };
  const key = await read('key', files.keyFile);
  let cert = await read('certificate', files.certFile);
  if (files.chainFile) {
    const chain = await read('chain', files.chainFile);
    cert = Buffer.concat([cert, Buffer.from('\n'), chain]);
  }
  return { key, cert };
}
