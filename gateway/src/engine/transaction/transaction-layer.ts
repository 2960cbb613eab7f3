/**
 * Transaction tables and matching rules (RFC 3261 §17.1.3 for responses, §17.2.3 for requests).
 */
import { randomBytes } from 'node:crypto';
import type { SipRequest, SipResponse } from '../sip/message';
import { getTag, parseCSeq, parseVia } from '../sip/headers';
import type { InviteClientTransaction } from './invite-client';
import type { NonInviteClientTransaction } from './non-invite-client';
import type { InviteServerTransaction } from './invite-server';
import type { NonInviteServerTransaction } from './non-invite-server';

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

export const MAGIC_COOKIE = 'z9hG4bK';

export function newBranch(): string {
  return MAGIC_COOKIE + randomBytes(8).toString('hex');
}

/**
 * Server-side matching key (§17.2.3): branch + sent-by + method, where ACK matches INVITE.
 * For RFC 2543 peers (no magic cookie) fall back to the §17.2.3 list of fields.
 */
export function serverKey(req: SipRequest, methodOverride?: string): string | undefined {
  const top = req.getHeaderValues('Via')[0];
  if (!top) return undefined;
  let via;
  try {
    via = parseVia(top);
  } catch {
    return undefined;
  }
  const method = methodOverride ?? (req.method === 'ACK' ? 'INVITE' : req.method);
  const branch = via.params.get('branch') ?? '';
  const sentBy = `${via.host}:${via.port ?? ''}`;
  if (branch.startsWith(MAGIC_COOKIE)) return `${branch}|${sentBy}|${method}`;
  let seq = '';
  try {
    seq = String(parseCSeq(req.getHeader('CSeq') ?? '').seq);
  } catch {
    /* keep empty */
  }
  // RFC 2543: the ACK's To tag differs from the INVITE's (none); leave To tag out of the key.
  return `2543|${req.uri}|${getTag(req.getHeader('From') ?? '') ?? ''}|${req.callId}|${seq}|${top}|${method}`;
}

/** Client-side matching key (§17.1.3): top Via branch + CSeq method. */
export function clientKeyFor(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

export function clientKeyOfResponse(res: SipResponse): string | undefined {
  const top = res.getHeaderValues('Via')[0];
  if (!top) return undefined;
  try {
    const branch = parseVia(top).params.get('branch');
    if (!branch) return undefined;
    return clientKeyFor(branch, parseCSeq(res.getHeader('CSeq') ?? '').method);
  } catch {
    return undefined;
  }
}

export class TransactionTable {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly byTxnId = new Map<string, ServerTransaction | ClientTransaction>();

  addServer(txn: ServerTransaction): void {
    this.servers.set(txn.key, txn);
    this.byTxnId.set(txn.txnId, txn);
    txn.onTerminated(() => {
      if (this.servers.get(txn.key) === txn) this.servers.delete(txn.key);
      if (this.byTxnId.get(txn.txnId) === txn) this.byTxnId.delete(txn.txnId);
    });
  }

  addClient(txn: ClientTransaction): void {
    this.clients.set(txn.key, txn);
    this.byTxnId.set(txn.txnId, txn);
    txn.onTerminated(() => {
      if (this.clients.get(txn.key) === txn) this.clients.delete(txn.key);
      if (this.byTxnId.get(txn.txnId) === txn) this.byTxnId.delete(txn.txnId);
    });
  }

  findServer(key: string | undefined): ServerTransaction | undefined {
    return key === undefined ? undefined : this.servers.get(key);
  }

  findClient(key: string | undefined): ClientTransaction | undefined {
    return key === undefined ? undefined : this.clients.get(key);
  }

  byId(txnId: string): ServerTransaction | ClientTransaction | undefined {
    return this.byTxnId.get(txnId);
  }

  get size(): { server: number; client: number } {
    return { server: this.servers.size, client: this.clients.size };
  }

  destroyAll(): void {
    for (const t of [...this.servers.values(), ...this.clients.values()]) t.destroy();
  }
}
