/** DTMF helpers: the SIP INFO body (application/dtmf-relay) and digit validation. */

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
