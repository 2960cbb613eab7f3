/**
 * Stateful proxy core for `srf.proxyRequest` (drachtio-protocol §7). Work in progress: the
 * engine answers `proxy` commands with NOK until this lands.
 */
import type { AppCommand } from '../control/app-connection';
import * as wire from '../control/wire';
import type { SipRequest, SipResponse } from '../sip/message';
import type { Engine, InboundInfo } from '../core/engine';

export class ProxyCore {
  constructor(private readonly e: Engine) {}

  get size(): number {
    return 0;
  }

  onProxyCommand(cmd: AppCommand): void {
    void this.e;
    cmd.app.send(wire.nok(cmd.msgId, 'proxy not supported'));
  }

  /** Requests that belong to a proxy operation or must be forwarded statelessly. */
  handleRequest(_req: SipRequest, _info: InboundInfo): boolean {
    return false;
  }

  handleCancel(_req: SipRequest, _info: InboundInfo): boolean {
    return false;
  }

  handleResponse(_res: SipResponse, _info: InboundInfo): boolean {
    return false;
  }

  destroyAll(): void {}
}
