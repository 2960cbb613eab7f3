/**
 * What an app learns about its proxy operation (drachtio-protocol §6, §7.2 "Reporting to the
 * app"): `continue` messages carrying final responses, then `done`; or one NOK.
 */
import type { AppConnection } from '../control/app-connection';
import * as wire from '../control/wire';
import type { SipResponse } from '../sip/message';
import type { Flow } from '../core/pending';

export interface Report {
  meta: wire.WireMeta;
  text: string;
}

export class ProxyReporter {
  private readonly reports: Report[] = [];
  /** The report of the response that went upstream: sent last so srf's finalStatus matches. */
  private last?: Report;
  private finished = false;

  constructor(
    private readonly app: AppConnection,
    private readonly msgId: string,
  ) {}

  get done(): boolean {
    return this.finished;
  }

  /** A final response from a target, stamped now with the target's address (§7.2). */
  static reportOf(flow: Flow | undefined, res: SipResponse): Report {
    const text = res.toString();
    return {
      meta: {
        source: 'network',
        bytes: Buffer.byteLength(text),
        protocol: flow?.protocol ?? 'udp',
        address: flow?.address ?? '',
        port: flow?.port ?? '',
        time: wire.wireTime(),
      },
      text,
    };
  }

  add(report: Report): void {
    if (!this.finished) this.reports.push(report);
  }

  /** This report belongs to the response sent upstream. */
  markForwarded(report: Report): void {
    this.last = report;
  }

  /** Every `continue` (the forwarded response last), then `done`. Only once. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const ordered = this.reports.filter((r) => r !== this.last);
    if (this.last) ordered.push(this.last);
    for (const r of ordered) this.app.send(wire.proxyContinue(this.msgId, r.meta, r.text));
    this.app.send(wire.proxyDone(this.msgId));
  }

  /** `done` straight away, nothing reported (fullResponse off: HTTP-routed proxies). */
  finishQuietly(): void {
    if (this.finished) return;
    this.finished = true;
    this.app.send(wire.proxyDone(this.msgId));
  }

  fail(reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.app.send(wire.nok(this.msgId, reason));
  }
}
