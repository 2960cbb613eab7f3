/**
 * Turns what a person types (server URL, "alice", "bob@example.com", "1001") into SIP URIs.
 * Pure functions: no sip.js, no DOM.
 */

export interface SignInAddresses {
  /** The WebSocket URL, normalised (no trailing slash after the host). */
  server: string;
  /** The address of record, e.g. `sip:alice@127.0.0.1`. */
  aor: string;
  /** The registrar, `sip:<domain>`. */
  registrar: string;
  domain: string;
  /** The user part of the AOR, also used as the Contact's user part. */
  user: string;
  authorizationUser: string;
}

export class AddressError extends Error {}

/** Validates the server URL and the user and derives the AOR, registrar and digest user name. */
export function signInAddresses(server: string, user: string, authorizationUser?: string): SignInAddresses {
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    throw new AddressError(`"${server}" is not a URL; expected e.g. wss://127.0.0.1:8443`);
  }
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') {
    throw new AddressError(`the server URL must start with wss:// (or ws://), not ${url.protocol}//`);
  }
  const trimmed = user.trim().replace(/^sips?:/i, '');
  if (!trimmed) throw new AddressError('enter a user name');
  const at = trimmed.lastIndexOf('@');
  const userPart = at >= 0 ? trimmed.slice(0, at) : trimmed;
  const domain = at >= 0 ? trimmed.slice(at + 1) : hostOf(url);
  if (!userPart || !domain || /[\s<>"]/.test(trimmed)) throw new AddressError(`"${user}" is not a valid user name`);
  const path = url.pathname === '/' ? '' : url.pathname;
  return {
    server: `${url.protocol}//${url.host}${path}${url.search}`,
    aor: `sip:${userPart}@${domain}`,
    registrar: `sip:${domain}`,
    domain,
    user: userPart,
    authorizationUser: authorizationUser?.trim() || decodeURIComponent(userPart),
  };
}

/** `[::1]` stays bracketed in a SIP URI; URL.hostname already keeps the brackets. */
function hostOf(url: URL): string {
  return url.hostname;
}

/** The request URI for a dial string: a full sip:/sips: URI as is, `user@host`, or a bare number/name in `domain`. */
export function dialTarget(target: string, domain: string): string {
  const trimmed = target.trim();
  if (!trimmed) throw new AddressError('enter a number or SIP address to call');
  if (/^sips?:/i.test(trimmed)) return trimmed;
  // Phone numbers are often typed with spaces, dashes, dots or parentheses; keep a leading +.
  if (/^[+(\d][\d\s().-]*$/.test(trimmed)) return `sip:${trimmed.replace(/[\s().-]/g, '')}@${domain}`;
  if (/[\s<>"]/.test(trimmed)) throw new AddressError(`"${target}" is not a valid number or SIP address`);
  if (trimmed.includes('@')) return `sip:${trimmed}`;
  return `sip:${trimmed}@${domain}`;
}
