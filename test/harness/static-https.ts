/**
 * A tiny HTTPS static file server for browser tests (test-only; the product serves the page from
 * its own HTTP server), plus a self-signed certificate made with openssl.
 *
 * Chromium needs a secure context for getUserMedia/RTCPeerConnection; https://127.0.0.1 with
 * this certificate plus Playwright's ignoreHTTPSErrors gives one, and the same key/cert files
 * serve the engine's wss contact (--key-file/--cert-file).
 *
 * The server listens on a TCP host:port or on a Unix socket path (for a namespace relay that
 * exposes it as 127.0.0.1:PORT inside a network namespace; see test/browser/namespace-relay.ts).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { runCommandOrThrow } from './child-processes.js';

export interface TlsFiles {
  keyFile: string;
  certFile: string;
  key: Buffer;
  cert: Buffer;
}

/**
 * Writes key.pem and cert.pem (RSA 2048, valid 2 days, CN=localhost,
 * subjectAltName=IP:127.0.0.1,DNS:localhost by default) into `dir`.
 */
export async function createSelfSignedCert(dir: string, subjectAltName = 'IP:127.0.0.1,DNS:localhost'): Promise<TlsFiles> {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await runCommandOrThrow('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', '/CN=localhost', '-addext', `subjectAltName=${subjectAltName}`,
  ]);
  return { keyFile, certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wav': 'audio/wav',
  '.txt': 'text/plain; charset=utf-8',
};

export type ListenAddress = { host: string; port: number } | { path: string };

export interface StaticHttpsOptions {
  /** Directory to serve; `/` and directories serve their index.html. */
  root: string;
  tls: Pick<TlsFiles, 'key' | 'cert'>;
  /** Default 127.0.0.1 on an ephemeral port. */
  listen?: ListenAddress;
}

export interface StaticHttpsServer {
  /** https://host:port/ for a TCP listener; undefined for a Unix socket. */
  readonly url: string | undefined;
  /** "GET /path status" per request, in order. */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

/** The file under root for a URL path, or undefined when it escapes root or does not exist. */
export function resolveStaticPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = resolve(root);
  let file = resolve(base, `.${normalize(`/${decoded}`)}`);
  if (file !== base && !file.startsWith(base + sep)) return undefined;
  try {
    if (statSync(file).isDirectory()) file = join(file, 'index.html');
    return statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

export async function startStaticHttpsServer(options: StaticHttpsOptions): Promise<StaticHttpsServer> {
  const requests: string[] = [];
  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const finish = (status: number): void => {
      requests.push(`${method} ${path} ${status}`);
    };
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return finish(405);
    }
    const file = resolveStaticPath(options.root, path);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return finish(404);
    }
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cache-Control': 'no-store',
    });
    finish(200);
    if (method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  });
  const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    if ('path' in listen) server.listen(listen.path, resolveListen);
    else server.listen(listen.port, listen.host, resolveListen);
  });
  const address = server.address();
  const url =
    'path' in listen || typeof address !== 'object' || !address
      ? undefined
      : `https://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
