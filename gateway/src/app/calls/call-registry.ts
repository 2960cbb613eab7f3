/**
 * Calls in progress, for shutdown, metrics and tests ("no dialogs left after the suite").
 */
import type { BridgedCall } from './bridged-call';

export class CallRegistry {
  private readonly calls = new Map<string, BridgedCall>();

  add(call: BridgedCall): void {
    this.calls.set(call.id, call);
  }

  remove(call: BridgedCall): void {
    if (this.calls.get(call.id) === call) this.calls.delete(call.id);
  }

  get size(): number {
    return this.calls.size;
  }

  all(): BridgedCall[] {
    return [...this.calls.values()];
  }

  async endAll(reason: string): Promise<void> {
    await Promise.all(this.all().map((c) => c.end(reason)));
  }
}
