/** DTMF helpers: the SIP INFO body (application/dtmf-relay), digit validation, and asking for DTMF as INFO. */

export const DTMF_DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#', 'A', 'B', 'C', 'D'] as const;

/** Tone length in ms for both INFO and RFC 4733. */
export const DTMF_DURATION_MS = 160;
/** Gap between RFC 4733 tones in ms (RTCDTMFSender's minimum is 30). */
export const DTMF_GAP_MS = 70;

/** The single DTMF digit in `digit` (0-9, *, #, A-D; case-insensitive), or an Error message. */
export function normaliseDigit(digit: string): string {
  const d = String(digit).trim().toUpperCase();
  if (!/^[0-9*#A-D]$/.test(d)) throw new Error(`"${digit}" is not a DTMF digit (0-9, *, #, A-D)`);
  return d;
}

/** Body of an INFO request with Content-Type application/dtmf-relay. */
export function dtmfRelayBody(digit: string, durationMs = DTMF_DURATION_MS): string {
  return `Signal=${normaliseDigit(digit)}\r\nDuration=${durationMs}`;
}

/**
 * The header that asks the far end for DTMF as SIP INFO: the `dtmf` Info Package (RFC 6086
 * Recv-Info; the package of draft-kaplan-dispatch-info-dtmf-package, application/dtmf-relay
 * bodies). Sent in our INVITE when we call and in our 200 when we answer; the gateway then turns
 * the RFC 4733 digits of the other side into INFO toward us.
 */
export const RECV_INFO_DTMF = 'Recv-Info: dtmf';

/** A digit received in an INFO: application/dtmf-relay ("Signal=5\r\nDuration=160") or application/dtmf ("5"). */
export function parseDtmfInfo(contentType: string | undefined, body: string | undefined): { digit: string; durationMs?: number } | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = body ?? '';
  let signal: string | undefined;
  let durationMs: number | undefined;
  if (type === 'application/dtmf-relay') {
    signal = /^\s*Signal\s*=\s*(\S+)/im.exec(text)?.[1];
    const duration = /^\s*Duration\s*=\s*(\d+)/im.exec(text)?.[1];
    durationMs = duration === undefined ? undefined : Number(duration);
    if (signal === '10') signal = '*';
    if (signal === '11') signal = '#';
  } else if (type === 'application/dtmf') {
    signal = text.trim();
  }
  if (!signal) return undefined;
  try {
    return { digit: normaliseDigit(signal), durationMs };
  } catch {
    return undefined;
  }
}

/** ?dtmf=info (or rfc4733) in the page URL: how the phone should receive DTMF; undefined leaves its setting. */
export function dtmfReceiveFromUrl(search: string): 'info' | 'rfc4733' | undefined {
  const value = new URLSearchParams(search).get('dtmf')?.trim().toLowerCase();
  return value === 'info' || value === 'rfc4733' ? value : undefined;
}
