/**
 * Every open flow, findable by id and by protocol + remote address + port. The second index is
 * what connection reuse needs: RFC 3261 §18.1.1 (send requests on an existing connection to the
 * destination) and §18.2.2 (send responses on the connection the request came in on).
 *
 * Several flows may share a key (an inbound and an outbound one to the same peer, or a
 * reconnect racing the old flow's close); lookups return the most recently opened one.
 */
import type { Protocol } from './types';
import type { FlowConnection } from './flow-connection';
import { normalizeAddress } from './ip-address';

export function flowKey(protocol: Protocol, address: string, port: number): string {
  return `${protocol} ${address} ${port}`;
}

export class ConnectionTable {
  private readonly byId = new Map<string, FlowConnection>();
  private readonly byKey = new Map<string, FlowConnection[]>();

  get size(): number {
    return this.byId.size;
  }

  add(connection: FlowConnection): void {
    this.byId.set(connection.id, connection);
    const key = flowKey(connection.protocol, connection.remoteAddress, connection.remotePort);
    const list = this.byKey.get(key);
    if (list) list.push(connection);
    else this.byKey.set(key, [connection]);
  }

  remove(connection: FlowConnection): void {
    if (this.byId.get(connection.id) !== connection) return;
    this.byId.delete(connection.id);
    const key = flowKey(connection.protocol, connection.remoteAddress, connection.remotePort);
    const list = this.byKey.get(key);
    if (!list) return;
    const i = list.indexOf(connection);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(key);
  }

  get(id: string): FlowConnection | undefined {
    return this.byId.get(id);
  }

  /** The newest open flow to that peer, if any. `address` may carry brackets or be IPv4-mapped. */
  find(protocol: Protocol, address: string, port: number): FlowConnection | undefined {
    const list = this.byKey.get(flowKey(protocol, normalizeAddress(address), port));
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      if (!list[i].closed) return list[i];
    }
    return undefined;
  }

  all(): FlowConnection[] {
    return [...this.byId.values()];
  }
}
