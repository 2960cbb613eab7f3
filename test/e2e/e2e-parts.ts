/**
 * The parts of the end-to-end fixture the tests hold on to: a softphone tab (PhonePage), a SIPp
 * run with its message log (SippRun), the Node desk phone (DeskPhone), and the polling helpers.
 * e2e-fixture.ts starts them; the tests use them.
 */
import { type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { SippProcess, SippResult } from '../harness/sipp.js';
// Types window.gatewayPhone inside page.evaluate.
import type {} from '../../softphone/src/ui/test-api.js';
import type { CallStats } from '../../softphone/src/phone/types.js';

/** Generous polling for a loaded 2-core machine. */
export const POLL = { timeout: 20_000, interval: 100 };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The first value of probe() that ok() accepts; throws with the last value after timeoutMs. */
export async function until<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)})`);
    await sleep(100);
  }
}

export interface DeskPhoneLine {
  type: string;
  [key: string]: unknown;
}

/** desk-phone.cjs seen from the test: its JSON lines, waits, and "stats" on request. */
export class DeskPhone {
  readonly lines: DeskPhoneLine[] = [];
  private stderr = '';

  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as DeskPhoneLine);
        } catch {
          this.stderr += `${line}\n`;
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  get errors(): string {
    return this.stderr;
  }

  waitFor(accept: (line: DeskPhoneLine) => boolean, timeoutMs: number, what: string): Promise<DeskPhoneLine> {
    return until(
      () => this.lines.find(accept),
      (line) => line !== undefined || this.child.exitCode !== null,
      timeoutMs,
      what,
    ).then((line) => {
      if (!line) throw new Error(`desk-phone.cjs exited before ${what}: ${this.stderr}`);
      return line;
    });
  }

  /** Sends one RFC 4733 event (e.g. 11 for #) on the current call; resolves once its end packets are out. */
  async sendDigit(event: number, durationMs = 200): Promise<void> {
    const before = this.lines.length;
    this.child.stdin?.write(`digit ${event} ${durationMs}\n`);
    const line = await until(
      () => this.lines.slice(before).find((l) => (l.type === 'digit-sent' || l.type === 'digit-failed') && l.event === event),
      (l) => l !== undefined,
      10_000,
      `desk phone sending RFC 4733 event ${event}`,
    );
    if (line!.type === 'digit-failed') throw new Error(`desk phone could not send event ${event}: ${String(line!.reason)}`);
  }

  /** Puts `Recv-Info: <value>` (RFC 6086; 'dtmf' asks for DTMF as SIP INFO) in the phone's next 200s; undefined stops it. */
  setRecvInfo(value: string | undefined): void {
    this.child.stdin?.write(`recv-info ${value ?? 'off'}\n`);
  }

  /** Packets received by payload type, and packets sent. */
  async stats(): Promise<{ received: Record<string, number>; sent: number }> {
    const before = this.lines.length;
    this.child.stdin?.write('stats\n');
    const line = await until(() => this.lines.slice(before).find((l) => l.type === 'stats'), (l) => l !== undefined, 5000, 'desk phone stats');
    return line as unknown as { received: Record<string, number>; sent: number };
  }
}

/** A SIPp run: the process, its result and its SIP message log. */
export class SippRun {
  constructor(
    readonly process: SippProcess,
    readonly messageFile: string,
  ) {}

  get result(): Promise<SippResult> {
    return this.process.result;
  }

  messages(): string {
    try {
      return readFileSync(this.messageFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits until the message log matches `pattern` (e.g. /^SIP\/2.0 180 /m: SIPp has sent its 180). */
  waitForMessage(pattern: RegExp, timeoutMs = POLL.timeout): Promise<string> {
    return until(
      () => this.messages(),
      (text) => pattern.test(text) || !this.process.running,
      timeoutMs,
      `SIPp message ${pattern}`,
    ).then((text) => {
      if (!pattern.test(text)) throw new Error(`SIPp ended before ${pattern} (output: ${this.process.output.slice(-1500)})`);
      return text;
    });
  }
}

/** One softphone tab: window.gatewayPhone plus the waits and samples the tests need. */
export class PhonePage {
  constructor(
    readonly page: Page,
    readonly user: string,
  ) {}

  stats(): Promise<CallStats | null> {
    return this.page.evaluate(() => window.gatewayPhone.stats());
  }

  callState(): Promise<string> {
    return this.page.evaluate(() => window.gatewayPhone.callState);
  }

  waitCallState(state: string, timeoutMs = POLL.timeout): Promise<string> {
    return until(() => this.callState(), (s) => s === state, timeoutMs, `${this.user}'s call state ${state}`);
  }

  /** Starts a call without waiting for it; callResult() tells how call() ended ('answered' or its error). */
  async startCall(target: string): Promise<void> {
    await this.page.evaluate((t) => {
      const w = window as unknown as { __callResult?: string };
      w.__callResult = undefined;
      window.gatewayPhone.call(t).then(
        () => (w.__callResult = 'answered'),
        (e: Error) => (w.__callResult = e.message),
      );
    }, target);
  }

  callResult(): Promise<string | undefined> {
    return this.page.evaluate(() => (window as unknown as { __callResult?: string }).__callResult);
  }

  waitCallResult(timeoutMs = POLL.timeout): Promise<string | undefined> {
    return until(() => this.callResult(), (r) => r !== undefined, timeoutMs, `the end of ${this.user}'s call()`);
  }

  /** Digits the page received as SIP INFO in its current (or last) call, e.g. ['1', '#']. */
  async receivedDtmf(): Promise<string[]> {
    return (await this.page.evaluate(() => window.gatewayPhone.receivedDtmf)).map((d) => d.digit);
  }

  /** Waits until the page has received `count` digits as SIP INFO in this call. */
  waitReceivedDtmf(count: number, timeoutMs = POLL.timeout): Promise<string[]> {
    return until(() => this.receivedDtmf(), (d) => d.length >= count, timeoutMs, `${count} DTMF INFO digits at ${this.user}`);
  }

  /** Names of page events of one type (e.g. 'reinvite-received'), with their details. */
  async events(type: string): Promise<Array<string | undefined>> {
    return (await this.page.evaluate(() => window.gatewayPhone.events)).filter((e) => e.type === type).map((e) => e.detail);
  }

  /**
   * Inbound RTP over a window: two getStats samples windowMs apart. Waits first (up to timeoutMs)
   * for the stream to be up (connected, some packets).
   */
  async inboundOver(windowMs: number): Promise<{ first: CallStats; second: CallStats; grew: number }> {
    const first = await until(() => this.stats(), (s) => s !== null, POLL.timeout, `${this.user}'s peer connection`);
    await sleep(windowMs);
    const second = (await this.stats())!;
    return { first: first!, second, grew: second.packetsReceived - first!.packetsReceived };
  }

  /** Waits until inbound packets arrive steadily: at least `min` more within windowMs, retried until timeoutMs. */
  async waitInboundFlowing(min: number, windowMs = 2000, timeoutMs = POLL.timeout): Promise<{ first: CallStats; second: CallStats; grew: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sample = await this.inboundOver(windowMs);
      if (sample.grew >= min || Date.now() > deadline) return sample;
    }
  }

  /** Waits until totalAudioEnergy (or audioLevel) of what arrives is above zero. */
  waitAudible(timeoutMs = POLL.timeout): Promise<CallStats | null> {
    return until(() => this.stats(), (s) => (s?.totalAudioEnergy ?? 0) > 0 || (s?.audioLevel ?? 0) > 0, timeoutMs, `audible inbound audio at ${this.user}`);
  }

  /** Raw getStats entries (of the given types) of the newest peer connection, for diagnostics. */
  rawStats(types: string[] = ['inbound-rtp', 'outbound-rtp', 'media-source', 'codec']): Promise<Array<Record<string, unknown>>> {
    return this.page.evaluate(async (wanted) => {
      const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
      const pc = pcs[pcs.length - 1];
      if (!pc) return [];
      const out: Array<Record<string, unknown>> = [];
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (wanted.includes(String(s.type))) out.push(s);
      });
      return out;
    }, types);
  }

  /** State of the newest peer connection and the lines of its SDP that decide ICE/DTLS. */
  peerConnectionSummary(): Promise<unknown> {
    return this.page.evaluate(() => {
      const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
      const pc = pcs[pcs.length - 1];
      if (!pc) return 'none';
      const pick = (sdp = ''): string[] => sdp.split('\r\n').filter((l) => /^(m=|a=(setup|ice-ufrag|fingerprint|candidate|mid|ssrc:\d+ cname|sendrecv|sendonly|recvonly|inactive))/.test(l));
      return { connection: pc.connectionState, ice: pc.iceConnectionState, remote: pick(pc.remoteDescription?.sdp), local: pick(pc.localDescription?.sdp) };
    });
  }

  /** Last-call line and error box as the page shows them. */
  async shown(): Promise<{ error: string | null; lastCall: string | null; status: string | null; outcome: string | null }> {
    return {
      error: await this.page.locator('#error').textContent(),
      lastCall: await this.page.locator('#last-call').textContent(),
      status: await this.page.locator('#last-call').getAttribute('data-status'),
      outcome: await this.page.locator('#last-call').getAttribute('data-outcome'),
    };
  }
}
