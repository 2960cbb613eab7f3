/**
 * Sending requests inside dialogs: where they go (route set, remote target, the dialog's
 * connection, the WebSocket registration cache, NAT target) and the engine's own teardown BYE
 * (ACK timeout, CANCEL after 200, session timer, cancel race: drachtio-protocol §5.2 kind 6).
 */
import { createLogger } from '../../logging/logger';
import * as wire from '../control/wire';
import type { Dialog } from '../dialog/dialog';
import type { SipRequest, SipResponse } from '../sip/message';
import { NonInviteClientTransaction } from '../transaction/non-invite-client';
import { clientKeyFor, newBranch } from '../transaction/transaction-layer';
import { tryParseUri } from '../sip/uri';
import { hostForUri, resolveUri, selectTransport } from './destinations';
import type { Engine } from './engine';
import type { Flow } from './pending';

const log = createLogger('dialog');

export class DialogSender {
  constructor(private readonly e: Engine) {}

  /**
   * The flow for the next request in a dialog (§4.4 "Transport"): the dialog's connection if
   * still open, a cached registration connection for the target, the NAT target, or the
   * resolved next hop.
   */
  async flowFor(dialog: Dialog, nextHop: string): Promise<Flow> {
    const cached = this.e.registrations.lookup(dialog.remoteTarget);
    const f = dialog.flow;
    if (cached && cached !== f.connection) {
      return { protocol: cached.protocol, address: cached.remoteAddress, port: cached.remotePort, transport: cached.transport, connection: cached };
    }
    if (f.connection && !f.connection.closed) {
      return { protocol: f.protocol, address: f.connection.remoteAddress, port: f.connection.remotePort, transport: f.transport, connection: f.connection };
    }
    if (dialog.natTarget && dialog.routeSet.length === 0) {
      return { protocol: f.protocol, address: dialog.natTarget.address, port: dialog.natTarget.port, transport: f.transport };
    }
    const uri = tryParseUri(nextHop);
    if (!uri) throw new Error(`unable to route to ${nextHop}`);
    if (uri.host.endsWith('.invalid')) throw new Error(`connection to ${nextHop} is gone`);
    const dest = await resolveUri(uri, this.e.config.hostAliases);
    const transport = dest.protocol === f.protocol ? f.transport : selectTransport(this.e.transports, dest.protocol, dest.address);
    if (!transport) throw new Error('requested protocol/transport not available');
    const connection = dest.protocol === 'udp' ? undefined : this.e.transportLayer.findConnection(dest.protocol, dest.address, dest.port);
    return { protocol: dest.protocol, address: dest.address, port: dest.port, transport, connection };
  }

  /** Top Via for a request leaving on this flow, with a new branch (§8.1.1.7, RFC 3581). */
  via(flow: Flow, branch = newBranch()): string {
    const host = hostForUri(flow.transport.advertisedHost);
    return `SIP/2.0/${flow.protocol.toUpperCase()} ${host}:${flow.transport.advertisedPort};branch=${branch};rport`;
  }

  /**
   * The engine tears a dialog down on its own: BYE to the peer, the same BYE to the app as
   * an `unsolicited` request, a CDR, and the dialog removed.
   */
  async engineBye(dialog: Dialog, reason: string, cdrReason = 'normal-release'): Promise<void> {
    if (dialog.state === 'terminated') return;
    const { req, nextHop } = dialog.buildRequest('BYE', dialog.nextCSeq());
    req.addHeader('Reason', `SIP ;cause=200 ;text="${reason}"`);
    this.e.dialogs.remove(dialog);
    log.info({ dialogId: dialog.id, reason }, 'engine sending BYE');
    let flow: Flow | undefined;
    try {
      flow = await this.flowFor(dialog, nextHop);
      req.prependHeader('Via', this.via(flow));
      this.sendAndForget(req, flow);
    } catch (err) {
      log.info({ dialogId: dialog.id, err: (err as Error).message }, 'BYE could not be sent');
    }
    const app = this.e.dialogApp(dialog);
    if (app) {
      const meta: wire.WireMeta = {
        source: 'application',
        bytes: Buffer.byteLength(req.toString()),
        protocol: flow?.protocol ?? dialog.flow.protocol,
        address: dialog.flow.transport.localAddress,
        port: dialog.flow.transport.localPort,
      };
      app.send(wire.sipMessage(meta, 'unsolicited', dialog.id, req.toString()));
    }
    this.e.cdrs.emit('cdr:stop', 'application', cdrReason, req);
  }

  /** A request whose responses nobody needs (engine BYE, CANCEL): a transaction, no app. */
  sendAndForget(req: SipRequest, flow: Flow, onResponse?: (res: SipResponse) => void): NonInviteClientTransaction {
    const branch = /branch=([^;,\s]+)/.exec(req.getHeader('Via') ?? '')?.[1] ?? newBranch();
    const channel = this.e.requestChannel(flow.protocol, flow.address, flow.port, flow.transport, flow.connection);
    const txn = new NonInviteClientTransaction(this.e.newTxnId(), clientKeyFor(branch, req.method), req, channel, this.e.timers, {
      onResponse: (res) => onResponse?.(res),
      onTimeout: () => log.info({ method: req.method, callId: req.callId }, 'no response to engine request'),
      onTransportError: (err) => log.info({ method: req.method, err: (err as Error).message }, 'engine request not sent'),
    });
    this.e.txns.addClient(txn);
    txn.start();
    return txn;
  }
}
