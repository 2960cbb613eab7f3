/**
 * Calls in progress, for shutdown, metrics and tests ("no dialogs left after the suite"), and the
 * one place that sees every call come and go: a new call (invite-handler.ts) and the call that
 * replaces another after a blind transfer (blind-transfer.ts) are both added here, and every call
 * is removed here when it ends or is replaced. Observers (e.g. dtmf-to-info.ts) hook in with
 * observe() instead of touching the call flows.
 */
import { createLogger } from '../../logging/logger';
import type { BridgedCall } from './bridged-call';

const log = createLogger('calls');

/** Told about every call added to or removed from the registry. Must not throw (it is logged if it does). */
export interface CallObserver {
  added(call: BridgedCall): void;
  removed(call: BridgedCall): void;
}

export class CallRegistry {
  private readonly calls = new Map<string, BridgedCall>();
  private readonly observers = new Set<CallObserver>();

  add(call: BridgedCall): void {
    const previous = this.calls.get(call.id);
    if (previous === call) return;
    this.calls.set(call.id, call);
    if (previous) this.notify('removed', previous);
    this.notify('added', call);
  }

  remove(call: BridgedCall): void {
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    this.notify('removed', call);
  }

  get size(): number {
    return this.calls.size;
  }

  all(): BridgedCall[] {
    return [...this.calls.values()];
  }

  /** Observer of the calls added and removed from now on; returns the function that stops it. */
  observe(observer: CallObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  async endAll(reason: string): Promise<void> {
    await Promise.all(this.all().map((c) => c.end(reason)));
  }

  private notify(what: keyof CallObserver, call: BridgedCall): void {
    for (const observer of this.observers) {
      try {
        observer[what](call);
      } catch (err) {
        log.warn({ call: call.id, err: (err as Error).message }, `call observer failed on ${what}`);
      }
    }
  }
}
