/**
 * What a REFER asks for (RFC 3515) and how its progress is reported back to the transferor.
 *
 *   Refer-To: <sip:bob@example.com>                                   blind transfer
 *   Refer-To: <sip:bob@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>
 *                                                                     attended transfer (RFC 3891 §3)
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import { isConnected } from './bridged-call';

const log = createLogger('transfer');

export interface ReplacesTarget {
  callId: string;
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
}

export interface ReferTarget {
  /** The Refer-To URI without its headers part. */
  uri: string;
  /** The dialog named by an embedded Replaces header, if any. */
  replaces?: ReplacesTarget;
}

/** Parses a Replaces header value: `callid;to-tag=x;from-tag=y[;early-only]` (RFC 3891 §6.1). */
export function parseReplaces(value: string): ReplacesTarget | undefined {
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  if (!callId) return undefined;
  const named = new Map<string, string>();
  for (const p of params) {
    const eq = p.indexOf('=');
    named.set((eq < 0 ? p : p.slice(0, eq)).toLowerCase(), eq < 0 ? '' : p.slice(eq + 1));
  }
  const toTag = named.get('to-tag');
  const fromTag = named.get('from-tag');
  if (!toTag || !fromTag) return undefined;
  return { callId, toTag, fromTag, earlyOnly: named.has('early-only') };
}

/**
 * The Refer-To header's URI and its embedded Replaces; undefined when the header is missing or
 * a Replaces is present but malformed.
 */
export function parseReferTo(value: string | undefined): ReferTarget | undefined {
  if (!value) return undefined;
  const bracketed = /<([^>]+)>/.exec(value);
  const full = (bracketed ? bracketed[1] : value.split(';')[0]).trim();
  const q = full.indexOf('?');
  const uri = q < 0 ? full : full.slice(0, q);
  if (!uri) return undefined;
  if (q < 0) return { uri };
  for (const pair of full.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).toLowerCase() !== 'replaces') continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      return undefined;
    }
    const replaces = parseReplaces(decoded);
    return replaces ? { uri, replaces } : undefined;
  }
  return { uri };
}

/**
 * The implicit subscription a REFER creates (RFC 3515 §2.4.4): NOTIFYs with the transfer's
 * progress as message/sipfrag, sent in order, `Event: refer;id=<the REFER's CSeq>` (§2.4.6: a
 * second REFER in the dialog gets its own subscription). Nothing is sent once the transferor's
 * dialog is gone; a NOTIFY that fails is logged, never thrown.
 */
export class ReferProgress {
  private queue: Promise<void> = Promise.resolve();
  private readonly event: string;

  constructor(
    private readonly dialog: Srf.Dialog,
    referCseq: string | undefined,
  ) {
    const id = /^\s*(\d+)/.exec(referCseq ?? '')?.[1];
    this.event = id ? `refer;id=${id}` : 'refer';
  }

  /** Queues one NOTIFY; resolves once it was answered (or failed). */
  notify(status: string, terminated: boolean): Promise<void> {
    this.queue = this.queue.then(() => this.send(status, terminated));
    return this.queue;
  }

  private async send(status: string, terminated: boolean): Promise<void> {
    if (!isConnected(this.dialog)) return;
    try {
      await this.dialog.request({
        method: 'NOTIFY',
        headers: {
          Event: this.event,
          'Subscription-State': terminated ? 'terminated;reason=noresource' : 'active;expires=60',
          'Content-Type': 'message/sipfrag;version=2.0',
        },
        body: `SIP/2.0 ${status}\r\n`,
      } as unknown as Srf.SrfRequest);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'NOTIFY for REFER not delivered');
    }
  }
}
