/**
 * The drachtio-srf app the browser tests talk to through the engine: a registrar with digest
 * authentication (RFC 3261 §22.4 / RFC 2617, MD5, qop=auth) that answers 200 echoing the
 * Contact with ;expires=600, plus a replaceable INVITE handler (486 Busy Here by default).
 */
import { createHash, randomBytes } from 'node:crypto';
import Srf from 'drachtio-srf';

export interface Registration {
  user: string;
  /** The Contact URI as sent, e.g. sip:k3v1s0ao@7vcm5rk5ntm1.invalid;transport=ws */
  contactUri: string;
  expires: number;
  /** e.g. "WSS" (from the Via of the REGISTER) */
  transport: string;
}

export type InviteHandler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void | Promise<void>;

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** The name=value pairs of a Digest Authorization header. */
export function parseDigest(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of header.replace(/^\s*Digest\s+/i, '').matchAll(/([a-z0-9-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/gi)) {
    params[match[1]!.toLowerCase()] = match[2] ?? match[3] ?? '';
  }
  return params;
}

/** True when the Digest response matches user/realm/password (qop=auth or RFC 2069 without qop). */
export function digestMatches(method: string, params: Record<string, string>, password: string): boolean {
  const ha1 = md5(`${params.username}:${params.realm}:${password}`);
  const ha2 = md5(`${method}:${params.uri}`);
  const expected = params.qop
    ? md5(`${ha1}:${params.nonce}:${params.nc}:${params.cnonce}:${params.qop}:${ha2}`)
    : md5(`${ha1}:${params.nonce}:${ha2}`);
  return expected === params.response;
}

export class SipTestApp {
  readonly registrations = new Map<string, Registration>();
  /** Every REGISTER's final answer, "user status" in order. */
  readonly registerLog: string[] = [];
  /** Replace per test; default rejects with 486. */
  onInvite: InviteHandler = (_req, res) => res.send(486);
  private readonly nonces = new Set<string>();

  private constructor(
    readonly srf: Srf,
    readonly realm: string,
    private readonly users: Readonly<Record<string, string>>,
  ) {}

  static async connect(options: { host: string; port: number; secret: string; realm: string; users: Record<string, string> }): Promise<SipTestApp> {
    const srf = new Srf();
    const app = new SipTestApp(srf, options.realm, options.users);
    srf.use('register', (req, res) => app.onRegister(req, res));
    srf.invite((req, res) => {
      Promise.resolve(app.onInvite(req, res)).catch((error: unknown) => {
        if (!res.finalResponseSent) res.send(500);
        process.stderr.write(`test INVITE handler failed: ${String(error)}\n`);
      });
    });
    srf.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      srf.once('connect', (err: Error | undefined) => (err ? reject(err) : resolve()));
      srf.connect({ host: options.host, port: options.port, secret: options.secret });
    });
    return app;
  }

  private onRegister(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const user = /sips?:([^@>;]+)@/.exec(req.get('To'))?.[1] ?? '';
    const authorization = req.get('Authorization');
    const challenge = (): void => {
      const nonce = randomBytes(12).toString('hex');
      this.nonces.add(nonce);
      this.registerLog.push(`${user} 401`);
      res.send(401, { headers: { 'WWW-Authenticate': `Digest realm="${this.realm}", nonce="${nonce}", qop="auth", algorithm=MD5` } });
    };
    if (!authorization) return challenge();
    const params = parseDigest(authorization);
    if (!this.nonces.has(params.nonce ?? '')) return challenge(); // stale or foreign nonce
    const password = this.users[params.username ?? ''];
    if (password === undefined || params.realm !== this.realm || !digestMatches('REGISTER', params, password)) {
      this.registerLog.push(`${user} 403`);
      return res.send(403);
    }
    const contact = req.get('Contact');
    const contactUri = /<([^>]+)>/.exec(contact)?.[1] ?? contact;
    const expires = Number(/;\s*expires=(\d+)/i.exec(contact)?.[1] ?? req.get('Expires') ?? 600);
    if (expires === 0) this.registrations.delete(user);
    else this.registrations.set(user, { user, contactUri, expires: 600, transport: /SIP\/2\.0\/(\S+)/.exec(req.get('Via'))?.[1] ?? '' });
    this.registerLog.push(`${user} 200${expires === 0 ? ' (unregister)' : ''}`);
    const echoed = expires === 0 ? contact : `<${contactUri}>;expires=600`;
    res.send(200, { headers: { Contact: echoed } });
  }

  disconnect(): void {
    this.srf.disconnect();
  }
}
