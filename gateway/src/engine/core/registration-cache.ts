/**
 * Connection reuse for registered clients behind connection-oriented transports
 * (drachtio-protocol §11.4, RFC 5626 flows in spirit): `user@host` of the Contact of a
 * REGISTER answered 200 (or SUBSCRIBE 200/202) -> the connection it arrived on, until expiry.
 */
import type { Connection } from '../transport';
import { parseNameAddr, getHeaderParam } from '../sip/headers';
import { tryParseUri } from '../sip/uri';
import type { SipRequest, SipResponse } from '../sip/message';

interface Entry {
  connection: Connection;
  expires: number;
}

export function userAtHost(uri: string): string | undefined {
  const u = tryParseUri(uri);
  if (!u) return undefined;
  return `${u.user ?? ''}@${u.host}`.toLowerCase();
}

export class RegistrationCache {
  private readonly entries = new Map<string, Entry>();

  /**
   * Record (or remove, for expiry 0) the contacts of a request answered with success. The
   * registrar's grant wins: a contact's expires in the 2xx, then the 2xx's Expires, then what
   * the request asked (drachtio-protocol §11.4). `Contact: *` drops this flow's entries.
   */
  learn(req: SipRequest, res: SipResponse, connection: Connection): void {
    const granted = res.getHeaderValues('Contact');
    const headerExpires = res.getHeader('Expires') ?? req.getHeader('Expires');
    for (const c of req.getHeaderValues('Contact')) {
      if (c.trim() === '*') {
        for (const [k, e] of this.entries) if (e.connection === connection) this.entries.delete(k);
        continue;
      }
      let key: string | undefined;
      let expires = Number(headerExpires ?? 3600);
      try {
        const na = parseNameAddr(c);
        key = userAtHost(na.uri);
        const grant = granted.find((g) => g.includes(na.uri));
        const e = (grant ? getHeaderParam(grant, 'expires') : undefined) ?? (res.getHeader('Expires') === undefined ? na.params.get('expires') : undefined);
        if (e !== undefined && e !== null && e !== '') expires = Number(e);
      } catch {
        continue;
      }
      if (!key) continue;
      if (!Number.isFinite(expires) || expires <= 0) this.entries.delete(key);
      else this.entries.set(key, { connection, expires: Date.now() + expires * 1000 });
    }
  }

  lookup(uri: string): Connection | undefined {
    const key = userAtHost(uri);
    if (!key) return undefined;
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires < Date.now() || e.connection.closed) {
      this.entries.delete(key);
      return undefined;
    }
    return e.connection;
  }

  dropConnection(c: Connection): void {
    for (const [k, e] of this.entries) if (e.connection === c) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
