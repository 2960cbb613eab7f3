/**
 * The location service (RFC 3261 §10, §10.3): AOR -> bindings, each with its own expiry timer.
 *
 * Bindings are keyed inside their AOR by `+sip.instance` (+ `reg-id`) when the UA sends one
 * (RFC 5627 §6, RFC 5626 §6: a re-registration from the same instance replaces the old contact
 * even if its URI changed, e.g. a browser that reloaded), otherwise by the contact URI under the
 * §19.1.4 comparison rules.
 *
 * Writes arrive as a batch per REGISTER and are applied together, after the handler has checked
 * every one of them: §10.3 "binding updates MUST be committed ... if and only if all binding
 * updates and additions succeed".
 */
import { EventEmitter } from 'node:events';
import type { Binding, UnbindReason } from './types';

/** What one REGISTER writes for a contact (the store adds times and generation). */
export type BindingWrite = Pick<Binding, 'key' | 'contact' | 'uri' | 'expires' | 'q' | 'instanceId' | 'regId' | 'callId' | 'cseq' | 'source' | 'userAgent'>;

interface Entry {
  binding: Binding;
  timer: NodeJS.Timeout;
}

/** setTimeout's ceiling (about 24.8 days); longer lifetimes are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function copy(b: Binding): Binding {
  return { ...b, source: { ...b.source } };
}

export class BindingStore extends EventEmitter {
  private readonly aors = new Map<string, Map<string, Entry>>();
  private generations = 0;

  constructor(private readonly domain: string) {
    super();
  }

  get(user: string, key: string): Binding | undefined {
    const e = this.aors.get(user)?.get(key);
    return e ? copy(e.binding) : undefined;
  }

  /** Live bindings of a user, newest (latest refresh) first. */
  list(user: string, now = Date.now()): Binding[] {
    const m = this.aors.get(user);
    if (!m) return [];
    return [...m.values()]
      .map((e) => e.binding)
      .filter((b) => b.expiresAt > now)
      .sort((a, b) => b.receivedAt - a.receivedAt || b.generation - a.generation)
      .map(copy);
  }

  count(user: string): number {
    return this.aors.get(user)?.size ?? 0;
  }

  *all(): IterableIterator<Binding> {
    for (const m of this.aors.values()) for (const e of m.values()) yield copy(e.binding);
  }

  get aorCount(): number {
    return this.aors.size;
  }

  get size(): number {
    let n = 0;
    for (const m of this.aors.values()) n += m.size;
    return n;
  }

  /** Apply one REGISTER's writes (expires 0 = removal). Emits bound / unbound. */
  commit(user: string, writes: readonly BindingWrite[], now = Date.now()): void {
    for (const w of writes) {
      if (w.expires === 0) {
        this.remove(user, w.key, 'unregistered');
        continue;
      }
      let m = this.aors.get(user);
      if (!m) {
        m = new Map();
        this.aors.set(user, m);
      }
      const old = m.get(w.key);
      if (old) clearTimeout(old.timer);
      const binding: Binding = {
        aor: `sip:${user}@${this.domain}`,
        user,
        key: w.key,
        contact: w.contact,
        uri: w.uri,
        expires: w.expires,
        expiresAt: now + w.expires * 1000,
        q: w.q,
        instanceId: w.instanceId,
        regId: w.regId,
        callId: w.callId,
        cseq: w.cseq,
        source: { ...w.source },
        userAgent: w.userAgent,
        registeredAt: old?.binding.registeredAt ?? now,
        receivedAt: now,
        generation: ++this.generations,
      };
      m.set(w.key, { binding, timer: this.arm(user, w.key, binding.expiresAt) });
      this.emit('bound', copy(binding), { refreshed: old !== undefined });
    }
  }

  /**
   * Remove one binding. With `generation`, only if it is still that version (a liveness probe
   * started before a refresh must not remove the refreshed binding).
   */
  remove(user: string, key: string, reason: UnbindReason, generation?: number): boolean {
    const m = this.aors.get(user);
    const e = m?.get(key);
    if (!m || !e) return false;
    if (generation !== undefined && e.binding.generation !== generation) return false;
    clearTimeout(e.timer);
    m.delete(key);
    if (!m.size) this.aors.delete(user);
    this.emit('unbound', copy(e.binding), reason);
    return true;
  }

  /** Drop everything (shutdown); no events per binding unless asked. */
  clear(reason: UnbindReason, emit = false): void {
    for (const [user, m] of [...this.aors]) {
      for (const key of [...m.keys()]) {
        if (emit) this.remove(user, key, reason);
        else clearTimeout(m.get(key)!.timer);
      }
    }
    this.aors.clear();
  }

  private arm(user: string, key: string, expiresAt: number): NodeJS.Timeout {
    const delay = Math.max(0, expiresAt - Date.now());
    const t = setTimeout(() => {
      const e = this.aors.get(user)?.get(key);
      if (!e || e.binding.expiresAt !== expiresAt) return;
      if (Date.now() < expiresAt) e.timer = this.arm(user, key, expiresAt);
      else this.remove(user, key, 'expired');
    }, Math.min(delay, MAX_TIMER_MS));
    t.unref();
    return t;
  }
}
