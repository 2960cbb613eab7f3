/**
 * Dialogs by dialogId (the app's handle) and by (Call-ID, local tag, remote tag) (the wire's).
 */
import type { Dialog } from './dialog';

export class DialogTable {
  private readonly byId = new Map<string, Dialog>();
  private readonly byKey = new Map<string, Dialog>();

  add(dialog: Dialog): void {
    this.byId.set(dialog.id, dialog);
    this.byKey.set(dialog.key, dialog);
  }

  /** Re-index after the remote tag became known (early dialog to confirmed). */
  rekey(dialog: Dialog, oldKey: string): void {
    if (this.byKey.get(oldKey) === dialog) this.byKey.delete(oldKey);
    this.byKey.set(dialog.key, dialog);
  }

  get(id: string): Dialog | undefined {
    return this.byId.get(id);
  }

  findByKey(key: string | undefined): Dialog | undefined {
    return key === undefined ? undefined : this.byKey.get(key);
  }

  remove(dialog: Dialog): void {
    dialog.terminate();
    if (this.byId.get(dialog.id) === dialog) this.byId.delete(dialog.id);
    if (this.byKey.get(dialog.key) === dialog) this.byKey.delete(dialog.key);
  }

  get size(): number {
    return this.byId.size;
  }

  all(): Dialog[] {
    return [...this.byId.values()];
  }
}
