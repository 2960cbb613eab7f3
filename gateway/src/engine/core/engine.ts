/**
 * The engine: a drachtio-server-compatible SIP server. It owns the transports, the transaction
 * and dialog tables and the control port, and dispatches between them. The SIP behaviour lives
 * in the handlers it wires together:
 *   network-requests.ts   requests from the wire (drachtio-protocol §10.1, §10.2)
 *   network-responses.ts  responses from the wire to requests apps sent (§5.2, §10.4)
 *   app-requests.ts       `sip` commands carrying requests (§4.3 - §4.5)
 *   app-responses.ts      `sip` commands carrying responses (§4.6)
 *   proxy (../proxy)      `proxy` commands and stateless forwarding (§7)
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createLogger } from '../../logging/logger';
import { ControlServer } from '../control/control-server';
import type { AppCommand, AppConnection } from '../control/app-connection';
import * as wire from '../control/wire';
import { DialogTable } from '../dialog/dialog-table';
import type { Dialog } from '../dialog/dialog';
import { parseMessage, SipParseError } from '../sip/parser';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message';
import { TransactionTable } from '../transaction/transaction-layer';
import type { TransactionChannel } from '../transaction/transaction';
import { DEFAULT_TIMERS, type TimerConfig } from '../transaction/timers';
import { TransportLayer, type Connection, type InboundMessage, type ListenSpec, type Protocol, type Transport } from '../transport';
import { advertisedHostFor, hostForUri, transportUri } from './destinations';
import { NetworkRequests } from './network-requests';
import { NetworkResponses } from './network-responses';
import { AppRequests } from './app-requests';
import { AppResponses } from './app-responses';
import { Cdrs } from './cdrs';
import type { IncomingRequest, OutgoingRequest } from './pending';
import { ProxyCore } from '../proxy/proxy-core';
import { DialogSender } from './dialog-sender';
import { RegistrationCache } from './registration-cache';

const log = createLogger('engine');
/** SIP as it crosses the wire, at debug level (the engine's answer to sofia-loglevel). */
const wireLog = createLogger('wire');

export const ENGINE_VERSION = 'v0.9.3';

/** Extensions handled by the engine or commonly by apps on top of it. */
const DEFAULT_EXTENSIONS = ['100rel', 'timer', 'replaces', 'path', 'outbound', 'gruu', 'norefersub', 'tdialog', 'join', 'precondition', 'from-change', 'histinfo', 'sec-agree', 'resource-priority'];

export interface EngineConfig {
  contacts: ListenSpec[];
  adminAddress: string;
  adminPort: number;
  secret: string;
  timers?: Partial<TimerConfig>;
  cdrs?: boolean;
  /** RFC 3261 §18.1.1: requests larger than mtu-200 bytes go over TCP when UDP was not asked for. */
  mtu?: number;
  alwaysSend180?: boolean;
  userAgentOptionsAutoRespond?: string;
  rejectRegisterWithNoRealm?: boolean;
  /** Session-timer refresher to use when the peer asked for timers without naming one (§10.8). */
  sessionTimerDefaultRefresher?: 'none' | 'uac' | 'uas';
  maxMessageBytes?: number;
  /** Host name -> address overrides used before DNS (test beds, split-horizon setups). */
  hostAliases?: ReadonlyMap<string, string>;
  /** A request handed to an app that never answers is forgotten after this long (§10.1: 64 s). */
  pendingRequestTimeoutMs?: number;
  /** Option tags accepted in Require (RFC 3261 §8.2.2.3); others get 420. Extends the defaults. */
  extraSupportedExtensions?: string[];
  /** Spammer filter (§10.1 step 3): substrings of User-Agent, To user, From user -> 603. */
  spammers?: { userAgent?: string[]; toUser?: string[]; fromUser?: string[] };
}

/** Where a message came from, kept with every server transaction for response routing. */
export interface InboundInfo {
  transport: Transport;
  connection?: Connection;
  protocol: Protocol;
  remoteAddress: string;
  remotePort: number;
  bytes: number;
}

export class Engine {
  readonly timers: TimerConfig;
  readonly transportLayer: TransportLayer;
  readonly txns = new TransactionTable();
  readonly dialogs = new DialogTable();
  readonly control: ControlServer;
  /** Requests from the network handed to an app and not yet finally answered, by txnId. */
  readonly incoming = new Map<string, IncomingRequest>();
  /** Requests apps sent and still waiting for a final response, by txnId. */
  readonly outgoing = new Map<string, OutgoingRequest>();
  readonly cdrs: Cdrs;
  readonly registrations = new RegistrationCache();
  readonly dialogSender: DialogSender;
  readonly networkRequests: NetworkRequests;
  readonly networkResponses: NetworkResponses;
  readonly appRequests: AppRequests;
  readonly appResponses: AppResponses;
  readonly proxy: ProxyCore;
  adminPort = 0;
  /** Option tags this engine and its apps handle; a Require outside this set gets 420. */
  readonly supportedExtensions: ReadonlySet<string>;

  constructor(readonly config: EngineConfig) {
    this.timers = { ...DEFAULT_TIMERS, ...config.timers };
    this.supportedExtensions = new Set([...DEFAULT_EXTENSIONS, ...(config.extraSupportedExtensions ?? []).map((x) => x.toLowerCase())]);
    this.transportLayer = new TransportLayer({ maxMessageBytes: config.maxMessageBytes ?? 65535 });
    this.control = new ControlServer(
      () => ({ secret: config.secret, hostports: this.hostports(true), localHostports: this.hostports(false), version: ENGINE_VERSION }),
      (cmd) => this.onAppCommand(cmd),
      (app) => this.onAppClosed(app),
    );
    this.cdrs = new Cdrs(this);
    this.dialogSender = new DialogSender(this);
    this.networkRequests = new NetworkRequests(this);
    this.networkResponses = new NetworkResponses(this);
    this.appRequests = new AppRequests(this);
    this.appResponses = new AppResponses(this);
    this.proxy = new ProxyCore(this);
  }

  async start(): Promise<void> {
    this.transportLayer.onMessage((m) => this.onInbound(m));
    this.transportLayer.on('connection-closed', (c: Connection) => this.onConnectionClosed(c));
    await this.transportLayer.listen(this.config.contacts);
    const admin = await this.control.listen(this.config.adminPort, this.config.adminAddress);
    this.adminPort = admin.port;
    log.info({ sip: this.hostports(false), admin: `${admin.address}:${admin.port}` }, 'engine listening');
  }

  async stop(): Promise<void> {
    this.txns.destroyAll();
    for (const d of this.dialogs.all()) this.dialogs.remove(d);
    this.proxy.destroyAll();
    await this.control.close();
    await this.transportLayer.close();
  }

  get transports(): readonly Transport[] {
    return this.transportLayer.transports;
  }

  /** `proto/host:port` list for the authenticate reply (§3.1). */
  hostports(external: boolean): string {
    return this.transports
      .map((t) => `${t.protocol}/${hostForUri(external ? t.advertisedHost : t.localAddress)}:${external ? t.advertisedPort : t.localPort}`)
      .join(',');
  }

  /** host:port used for `localhost` substitution and generated Contacts. */
  hostport(t: Transport, address?: string): string {
    return `${advertisedHostFor(t, address)}:${t.advertisedPort}`;
  }

  contactFor(t: Transport, address?: string): string {
    return `<${transportUri(t, address)}>`;
  }

  newTxnId(): string {
    return randomUUID();
  }

  /** 48 random bits as hex: RFC 3261 §19.3 wants tags with at least 32. Drawn from a pool. */
  newTag(): string {
    if (this.randomOffset + 6 > this.randomPool.length) {
      this.randomPool = randomBytes(6 * 1024);
      this.randomOffset = 0;
    }
    const tag = this.randomPool.toString('hex', this.randomOffset, this.randomOffset + 6);
    this.randomOffset += 6;
    return tag;
  }

  private randomPool = Buffer.alloc(0);
  private randomOffset = 0;

  newCSeq(): number {
    return randomInt(1, 0x7ffffff);
  }

  // ---- inbound from the network ----------------------------------------------------------

  private onInbound(m: InboundMessage): void {
    const info: InboundInfo = {
      transport: m.transport,
      connection: m.connection,
      protocol: m.protocol,
      remoteAddress: m.remoteAddress,
      remotePort: m.remotePort,
      bytes: m.data.length,
    };
    if (wireLog.isLevelEnabled('debug')) wireLog.debug({ from: `${m.protocol}/${m.remoteAddress}:${m.remotePort}` }, `recv ${m.data.length} bytes\n${m.data.toString('utf8')}`);
    let msg: SipRequest | SipResponse;
    try {
      msg = parseMessage(m.data);
    } catch (err) {
      if (err instanceof SipParseError) return this.networkRequests.onUnparseable(err, info, m.data);
      log.error({ err: (err as Error).stack }, 'unexpected parser failure');
      return;
    }
    try {
      if (msg.isRequest) this.networkRequests.handle(msg as SipRequest, info);
      else this.networkResponses.handle(msg as SipResponse, info);
    } catch (err) {
      log.error({ err: (err as Error).stack, remote: `${m.remoteAddress}:${m.remotePort}` }, 'error handling SIP message');
    }
  }

  private onConnectionClosed(c: Connection): void {
    this.networkRequests.onConnectionClosed(c);
  }

  // ---- inbound from apps -----------------------------------------------------------------

  private onAppCommand(cmd: AppCommand): void {
    try {
      if (cmd.tokens[1] === 'proxy') this.proxy.onProxyCommand(cmd);
      else this.onSipCommand(cmd);
    } catch (err) {
      log.error({ err: (err as Error).stack }, 'error handling app command');
      cmd.app.send(wire.nok(cmd.msgId, 'Unknown server error'));
    }
  }

  /** Dispatch of `sip` commands (§4.2). */
  private onSipCommand(cmd: AppCommand): void {
    const txnId = cmd.tokens[2] ?? '';
    const dialogId = cmd.tokens[3] ?? '';
    if (cmd.sip.startsWith('SIP/')) {
      if (!txnId) {
        cmd.app.send(wire.no(cmd.msgId, 'transaction id missing'));
        cmd.app.close();
        return;
      }
      this.appResponses.handle(cmd, txnId);
      return;
    }
    if (dialogId) return this.appRequests.inDialog(cmd, dialogId);
    if (txnId) return this.appRequests.cancelOrOther(cmd, txnId);
    this.appRequests.outOfDialog(cmd, cmd.tokens[4]);
  }

  private onAppClosed(app: AppConnection): void {
    // Transactions and dialogs stay in SIP state (§3.4, §10.5); pending requests the app never
    // answered get a final response so callers are not left hanging.
    for (const pending of [...this.incoming.values()]) {
      if (pending.app === app) this.appResponses.abandon(pending, 'app disconnected');
    }
    for (const out of [...this.outgoing.values()]) {
      if (out.app === app) out.app = undefined;
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  send(app: AppConnection | undefined, payload: string): void {
    app?.send(payload);
  }

  /** Channel that sends responses back toward where a request came from (§18.2.2, RFC 3581). */
  responseChannel(info: InboundInfo): TransactionChannel {
    return this.requestChannel(info.protocol, info.remoteAddress, info.remotePort, info.transport, info.connection);
  }

  /** Channel toward a resolved destination, optionally pinned to a connection. */
  requestChannel(protocol: Protocol, address: string, port: number, transport: Transport, connection?: Connection): TransactionChannel {
    return {
      reliable: protocol !== 'udp',
      send: (msg: SipMessage) => {
        const data = msg.toBuffer();
        if (wireLog.isLevelEnabled('debug')) wireLog.debug({ to: `${protocol}/${address}:${port}` }, `send ${data.length} bytes\n${data.toString('utf8')}`);
        return this.transportLayer.send(data, { protocol, address, port, connection, transport });
      },
    };
  }

  /** Statelessly send a response toward where the request came from. */
  sendStatelessResponse(res: SipResponse, info: InboundInfo): void {
    this.responseChannel(info)
      .send(res)
      .catch((err: Error) => log.info({ err: err.message }, 'stateless response not sent'));
  }

  /** The app owning a dialog, if it is still connected. */
  dialogApp(dialog: Dialog): AppConnection | undefined {
    return dialog.app && !dialog.app.closed ? dialog.app : undefined;
  }

  stats(): Record<string, number> {
    return {
      dialogs: this.dialogs.size,
      serverTransactions: this.txns.size.server,
      clientTransactions: this.txns.size.client,
      incoming: this.incoming.size,
      outgoing: this.outgoing.size,
      apps: this.control.registry.size,
      proxies: this.proxy.size,
    };
  }
}
