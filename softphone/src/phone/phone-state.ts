/**
 * What the phone shows: the current PhoneSnapshot (published to every listener on each change),
 * the event log (the last 200 events, for the page and the tests) and the DTMF digits received as
 * SIP INFO in the current call.
 */
import type { CallState, PhoneEvent, PhoneSnapshot, ReceivedDtmf, RegistrationState } from './types';

const MAX_EVENTS = 200;

export type PhoneListener = (snapshot: PhoneSnapshot) => void;

export class PhoneState {
  private state: PhoneSnapshot;
  private readonly listeners = new Set<PhoneListener>();
  private readonly log: PhoneEvent[] = [];
  private readonly startedAt = performance.now();
  /** Digits received as SIP INFO in the current call (or the last one), oldest first. */
  received: ReceivedDtmf[] = [];

  constructor(initial: PhoneSnapshot) {
    this.state = initial;
  }

  /** The live snapshot (read only; change it with update()). */
  get current(): Readonly<PhoneSnapshot> {
    return this.state;
  }

  /** A copy, safe to hand out. */
  get snapshot(): PhoneSnapshot {
    return { ...this.state, lastCall: this.state.lastCall && { ...this.state.lastCall } };
  }

  get events(): PhoneEvent[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** Milliseconds since the phone was created (event and DTMF timestamps). */
  elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** Calls listener now and on every change; returns the unsubscribe function. */
  subscribe(listener: PhoneListener): () => void {
    this.listeners.add(listener);
    listener(this.snapshot);
    return () => this.listeners.delete(listener);
  }

  /** Applies `patch` (an undefined value removes the field) and tells the listeners. */
  update(patch: Partial<PhoneSnapshot>): void {
    this.state = { ...this.state, ...patch };
    for (const key of Object.keys(patch) as Array<keyof PhoneSnapshot>) {
      if (patch[key] === undefined) delete this.state[key];
    }
    const snapshot = this.snapshot;
    for (const listener of this.listeners) listener(snapshot);
  }

  record(type: string, detail?: string): void {
    this.log.push({ at: this.elapsedMs(), type, detail });
    if (this.log.length > MAX_EVENTS) this.log.shift();
  }

  /** Records an error, shows it, and returns it as an Error to throw. */
  fail(message: string): Error {
    this.record('error', message);
    this.update({ error: message });
    return new Error(message);
  }

  setRegistration(registration: RegistrationState, registrationError?: string): void {
    this.record('registration', registrationError ? `${registration}: ${registrationError}` : registration);
    this.update({ registration, registrationError });
  }

  setCall(call: CallState): void {
    this.record('call', call);
    this.update({ call });
  }
}
