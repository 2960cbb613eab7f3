/**
 * DTMF carried in SIP INFO bodies: application/dtmf-relay ("Signal=5\r\nDuration=160") and
 * application/dtmf ("5"), as sent by SIP.js and most desk phones; and the RFC 6086 Info Package
 * signalling a leg uses to ask the gateway for DTMF as INFO (see dtmf-to-info.ts).
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

/**
 * The Info Package for DTMF in application/dtmf-relay bodies: the name used by
 * draft-kaplan-dispatch-info-dtmf-package (the widely deployed dtmf-relay INFO, cast as an RFC 6086
 * Info Package).
 */
export const DTMF_INFO_PACKAGE = 'dtmf';

/**
 * Whether a Recv-Info header value (RFC 6086: a comma-separated list of Info Package names, each
 * with optional parameters; several headers arrive joined with commas) lists the dtmf package.
 * Package names compare case-insensitively. An empty Recv-Info means "no packages".
 */
export function recvInfoListsDtmf(value: string | string[] | undefined): boolean {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values
    .flatMap((v) => String(v).split(','))
    .map((entry) => entry.split(';')[0]!.trim().toLowerCase())
    .includes(DTMF_INFO_PACKAGE);
}

/**
 * Headers of an INFO that carries one digit of the dtmf Info Package to a UA that announced it in
 * Recv-Info (RFC 6086: Info-Package names the package, Content-Disposition: Info-Package marks the
 * body as its payload).
 */
export function dtmfInfoRequest(digit: string, durationMs: number): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'Info-Package': DTMF_INFO_PACKAGE,
      'Content-Disposition': 'Info-Package',
      'Content-Type': 'application/dtmf-relay',
    },
    body: dtmfRelayBody(digit, durationMs),
  };
}
