/**
 * DTMF carried in SIP INFO bodies: application/dtmf-relay ("Signal=5\r\nDuration=160") and
 * application/dtmf ("5"), as sent by SIP.js and most desk phones.
 */
export interface InfoDigit {
  digit: string;
  durationMs: number;
}

const DIGIT = /^[0-9*#A-Da-d]$/;

export function parseDtmfInfo(contentType: string | undefined, body: string): InfoDigit | undefined {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/dtmf-relay') {
    const signal = /^\s*Signal\s*=\s*(\S+)/im.exec(body)?.[1];
    const duration = Number(/^\s*Duration\s*=\s*(\d+)/im.exec(body)?.[1] ?? 250);
    if (!signal) return undefined;
    const digit = signal === '10' ? '*' : signal === '11' ? '#' : signal;
    return DIGIT.test(digit) ? { digit, durationMs: Math.min(Math.max(duration, 40), 2000) } : undefined;
  }
  if (type === 'application/dtmf') {
    const digit = body.trim();
    return DIGIT.test(digit) ? { digit, durationMs: 250 } : undefined;
  }
  return undefined;
}

export function dtmfRelayBody(digit: string, durationMs: number): string {
  return `Signal=${digit}\r\nDuration=${durationMs}\r\n`;
}
