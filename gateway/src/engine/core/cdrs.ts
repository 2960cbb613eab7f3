/**
 * Call detail records pushed to apps that asked for them (drachtio-protocol §8), one subscriber
 * per record, round-robin. Only produced when enabled in the configuration.
 */
import * as wire from '../control/wire';
import type { SipMessage } from '../sip/message';
import type { Engine } from './engine';

export class Cdrs {
  constructor(private readonly engine: Engine) {}

  emit(kind: wire.CdrKind, source: 'network' | 'application', extra: string | undefined, msg: SipMessage): void {
    if (!this.engine.config.cdrs) return;
    const app = this.engine.control.registry.pick(kind);
    if (!app) return;
    app.send(wire.cdr(kind, source, extra, msg.toString()));
  }
}
