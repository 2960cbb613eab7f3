/**
 * Which rtpengine one call lives on. The first offer picks an engine from the pool (failing over
 * between engines, NoMediaServerError when none answers) and pins the call to it; every later
 * command goes there. A command that times out is reported to the pool (which may take the engine
 * out of rotation for new calls). Delete is idempotent and never throws.
 */
import { createLogger } from '../../logging/logger';
import type { NgQueryReply } from './ng-types';
import type { RtpengineNode, RtpenginePool } from './rtpengine-pool';

const log = createLogger('media-session');

export class PinnedEngine {
  private node: RtpengineNode | undefined;
  private deleting: Promise<NgQueryReply | undefined> | undefined;
  /** delete() was called: a first offer still in flight must not leave its session behind. */
  private deleteRequested = false;

  constructor(
    private readonly pool: RtpenginePool,
    private readonly callId: string,
  ) {}

  get id(): string | undefined {
    return this.node?.id;
  }

  get placed(): boolean {
    return this.node !== undefined;
  }

  /** The call's first command (its first offer): picks and pins an engine. */
  async place<T>(run: (node: RtpengineNode) => Promise<T>): Promise<T> {
    // A first offer that timed out on an engine may still have executed there (reply lost): delete it.
    const placed = await this.pool.placeNewCall(run, (node) => void this.pool.deleteCall(node, this.callId).catch(() => undefined));
    this.node = placed.node;
    if (this.deleteRequested) {
      // The call ended (e.g. a CANCEL) while its first offer was on its way: that offer created
      // a session after the delete found none, so delete it now.
      this.deleting = this.deleteOnce();
      throw new Error(`media session for call ${this.callId} was deleted while its first offer was in flight`);
    }
    return placed.result;
  }

  /** Runs a command on the pinned engine. */
  async run<T>(command: (node: RtpengineNode) => Promise<T>): Promise<T> {
    const node = this.node;
    if (!node) throw new Error(`no media session yet for call ${this.callId}`);
    if (this.deleteRequested) throw new Error(`media session for call ${this.callId} was deleted`);
    try {
      return await command(node);
    } catch (error) {
      this.pool.reportFailure(node, error);
      throw error;
    }
  }

  /**
   * Deletes the whole call (with a from-tag rtpengine deletes only that branch, and a call that
   * had a party replaced still holds the old party's monologue) and releases it from the pool.
   * Idempotent: later calls return the first call's result. Retried in the background if unanswered.
   */
  delete(): Promise<NgQueryReply | undefined> {
    this.deleteRequested = true;
    if (!this.deleting && this.node) this.deleting = this.deleteOnce();
    return this.deleting ?? Promise.resolve(undefined);
  }

  private async deleteOnce(): Promise<NgQueryReply | undefined> {
    const node = this.node!;
    try {
      const reply = await this.pool.deleteCall(node, this.callId);
      log.info({ callId: this.callId, rtpengine: node.id }, 'media session deleted');
      return reply;
    } catch (error) {
      log.warn({ callId: this.callId, rtpengine: node.id, err: (error as Error).message }, 'rtpengine delete failed (retried in the background if unanswered)');
      return undefined;
    } finally {
      this.pool.callEnded(node);
    }
  }
}
