/**
 * RFC 4733 telephone-events turned into SIP INFO for a leg that asked for DTMF as INFO.
 *
 * How a leg asks (RFC 6086 Info Packages): it lists the `dtmf` Info Package in a Recv-Info header
 * of the message that set up its side of the call,
 *   - the INVITE when it is the caller            (SIP.js: Inviter option `extraHeaders`),
 *   - the 2xx answer when it is the called party (SIP.js: `invitation.accept({ extraHeaders })`),
 *   e.g. `Recv-Info: dtmf`. The package is draft-kaplan-dispatch-info-dtmf-package's: the widely
 *   deployed application/dtmf-relay body ("Signal=5\r\nDuration=160") cast as an Info Package.
 * A leg without Recv-Info, or whose Recv-Info does not list dtmf, did not ask: RFC 4733 reaches it
 * unchanged and nothing else happens (the default, and what every SIP phone gets).
 * Recv-Info in a REGISTER or in a later re-INVITE is not looked at; neither is a per-user setting.
 *
 * For a leg that asked, every digit that rtpengine reports from the OTHER leg (--dtmf-log-dest,
 * media/dtmf-events.ts) is sent to it as
 *     INFO  Info-Package: dtmf  Content-Disposition: Info-Package
 *           Content-Type: application/dtmf-relay   Signal=5 / Duration=200
 * one INFO at a time per leg, so the digits arrive in the order they were pressed. A refused INFO
 * (e.g. 481, 469) or one that times out is logged and the next digit is still sent; the call
 * stays up (its BYE or the dialog's own failure ends it).
 *
 * The RFC 4733 packets are not suppressed toward that leg: a browser cannot observe received
 * telephone-events (WebRTC has no API for them), so it sees each digit once, as INFO. A SIP phone
 * that asks gets both and must ignore one of them.
 *
 * What rtpengine reports (verified with rtpengine 10.5 in test/calls/dtmf-to-info.test.ts and
 * test/e2e/dtmf.test.ts): one datagram per digit when its end packet arrives, and only while the
 * call's audio goes through rtpengine's codec handler (`inject DTMF`, the default media policy, or
 * transcoding). Digits rtpengine plays itself (INFO from a leg -> play DTMF) are reported with the
 * playing leg's tag, i.e. as if that leg had sent them: a leg that sends INFO never gets its own
 * digit back, and a far end that asked for INFO gets it as INFO too.
 *
 * A call that replaces another after a transfer is added to the call registry like any call, with
 * the transferee's original dialog (its INVITE or 2xx still says what it asked for): this observer
 * of the registry covers it without hooks in the call flows. The leg a digit came from is found by
 * its rtpengine tag when it arrives, so a party swap within one rtpengine call is followed too.
 */
import type Srf from 'drachtio-srf';
import { createLogger } from '../../logging/logger';
import type { DtmfEvent, DtmfEventListener } from '../media/dtmf-events';
import { otherLeg, type LegId } from '../media/media-session';
import type { BridgedCall } from './bridged-call';
import type { CallObserver } from './call-registry';
import { dtmfInfoRequest, recvInfoListsDtmf } from './dtmf-info';

const log = createLogger('dtmf-to-info');

const LEGS: readonly LegId[] = ['caller', 'callee'];
/** Used when rtpengine reports no usable duration. */
const DEFAULT_DURATION_MS = 250;

interface HeaderSource {
  get?(name: string): unknown;
}

/**
 * Whether the far end of `dialog` asked for DTMF as INFO: Recv-Info listing `dtmf` in the INVITE it
 * sent (a UAS dialog: the gateway answered it) or in the 2xx it answered with (a UAC dialog).
 */
export function legAsksForDtmfInfo(dialog: Srf.Dialog): boolean {
  const d = dialog as unknown as { type?: string; req?: HeaderSource; res?: HeaderSource };
  const message = d.type === 'uas' ? d.req : d.res;
  try {
    const value = message?.get?.('Recv-Info');
    return recvInfoListsDtmf(typeof value === 'string' || Array.isArray(value) ? (value as string | string[]) : undefined);
  } catch {
    return false;
  }
}

interface Conversion {
  call: BridgedCall;
  /** Legs that asked for INFO. */
  legs: LegId[];
  unsubscribe: () => void;
  /** The INFO in flight (per call: digits stay in order). */
  queue: Promise<void>;
  stopped: boolean;
}

export interface DtmfToInfoStats {
  /** Calls with at least one leg that asked for INFO, right now. */
  calls: number;
  /** INFO requests answered 2xx, refused (non-2xx), or failed without an answer. */
  sent: number;
  refused: number;
  failed: number;
}

/** Observer of the call registry (CallRegistry.observe) that does the conversion. */
export class DtmfToInfo implements CallObserver {
  private readonly conversions = new Map<BridgedCall, Conversion>();
  private counters = { sent: 0, refused: 0, failed: 0 };
  private warnedNoEvents = false;

  /** `events` undefined: DTMF events are off, legs that ask get RFC 4733 only (logged once). */
  constructor(private readonly events: DtmfEventListener | undefined) {}

  get stats(): DtmfToInfoStats {
    return { calls: this.conversions.size, ...this.counters };
  }

  /** Whether `call` converts RFC 4733 to INFO toward `leg`. */
  converts(call: BridgedCall, leg: LegId): boolean {
    return this.conversions.get(call)?.legs.includes(leg) ?? false;
  }

  added(call: BridgedCall): void {
    const legs = LEGS.filter((leg) => legAsksForDtmfInfo(call.dialogOf(leg)));
    if (legs.length === 0) return;
    if (!this.events) {
      if (!this.warnedNoEvents) {
        log.warn({ call: call.id, legs }, 'a leg asked for DTMF as SIP INFO (Recv-Info: dtmf) but rtpengine DTMF events are off (rtpengine.dtmfEvents): it gets RFC 4733 only');
        this.warnedNoEvents = true;
      }
      return;
    }
    const conversion: Conversion = { call, legs, unsubscribe: () => undefined, queue: Promise.resolve(), stopped: false };
    // The leg a digit came from is looked up when it arrives: a party swap (transfer) gives a leg a
    // new rtpengine tag in the same rtpengine call. Tags of neither leg (stale, foreign) are dropped.
    // A call joined from two rtpengine calls (media/chained-media.ts) has a part in each.
    const events = this.events;
    const unsubscribes = call.media.parts.map((part) =>
      events.subscribe(part.callId, (event) => {
        const from = part.legForTag(event.sourceTag);
        if (from === undefined) {
          log.debug({ call: call.id, tag: event.sourceTag, digit: event.digit }, 'DTMF event from a tag of neither leg ignored');
          return;
        }
        const to = otherLeg(from);
        if (legs.includes(to)) this.enqueue(conversion, to, event);
      }),
    );
    conversion.unsubscribe = () => unsubscribes.forEach((unsubscribe) => unsubscribe());
    this.conversions.set(call, conversion);
    log.info({ call: call.id, rtpengineCall: call.media.callId, legs }, 'RFC 4733 from the other leg will be sent as SIP INFO');
  }

  removed(call: BridgedCall): void {
    const conversion = this.conversions.get(call);
    if (!conversion) return;
    this.conversions.delete(call);
    conversion.stopped = true;
    conversion.unsubscribe();
  }

  /** Stops every conversion (shutdown). */
  close(): void {
    for (const call of [...this.conversions.keys()]) this.removed(call);
  }

  private enqueue(conversion: Conversion, toLeg: LegId, event: DtmfEvent): void {
    if (conversion.stopped) return;
    conversion.queue = conversion.queue.then(() => this.send(conversion, toLeg, event));
  }

  /** One INFO; never throws (the queue must go on). */
  private async send(conversion: Conversion, toLeg: LegId, event: DtmfEvent): Promise<void> {
    const { call } = conversion;
    const dialog = call.dialogOf(toLeg);
    if (conversion.stopped || (dialog as unknown as { connected?: boolean }).connected === false) return;
    const durationMs = Number.isFinite(event.durationMs) && event.durationMs > 0 ? Math.round(event.durationMs) : DEFAULT_DURATION_MS;
    const { headers, body } = dtmfInfoRequest(event.digit, durationMs);
    const context = { call: call.id, to: toLeg, digit: event.digit, durationMs };
    try {
      const response = await dialog.request({ method: 'INFO', headers, body } as unknown as Srf.SrfRequest);
      const status = (response as { status?: number } | undefined)?.status ?? 0;
      if (status >= 200 && status < 300) {
        this.counters.sent += 1;
        log.info(context, 'RFC 4733 digit sent as SIP INFO');
      } else {
        this.counters.refused += 1;
        log.warn({ ...context, status }, 'DTMF INFO refused');
      }
    } catch (err) {
      this.counters.failed += 1;
      const status = (err as { status?: number }).status;
      log.warn({ ...context, status, err: (err as Error).message }, 'DTMF INFO not delivered');
    }
  }
}
