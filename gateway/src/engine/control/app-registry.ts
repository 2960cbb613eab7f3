/**
 * Which app gets what (drachtio-protocol §9): round-robin per method over the apps that
 * registered a route for it, plus transaction and dialog affinity for everything else.
 */
import type { AppConnection } from './app-connection';

export class AppRegistry {
  private readonly apps = new Set<AppConnection>();
  private readonly offsets = new Map<string, number>();

  add(app: AppConnection): void {
    this.apps.add(app);
    app.once('close', () => this.apps.delete(app));
  }

  get size(): number {
    return this.apps.size;
  }

  all(): AppConnection[] {
    return [...this.apps];
  }

  /** Next connected app registered for the verb (§9.1), or undefined. */
  pick(verb: string): AppConnection | undefined {
    const key = verb.toLowerCase();
    const candidates = [...this.apps].filter((a) => a.authenticated && !a.closed && a.routes.has(key));
    if (candidates.length === 0) return undefined;
    const offset = this.offsets.get(key) ?? 0;
    this.offsets.set(key, (offset + 1) % 1_000_000);
    return candidates[offset % candidates.length];
  }
}
