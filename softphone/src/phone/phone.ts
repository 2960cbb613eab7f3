/**
 * The softphone core: a thin layer over sip.js's UserAgent + Registerer + Inviter/Invitation.
 *
 * One registration and one call at a time. Every change of state is published as a PhoneSnapshot
 * to the listeners (the page and the test API), and every failure ends up as a readable message
 * in snapshot.error / registrationError / lastCall.reason so the page can show it.
 *
 * - sign-in.ts: the user agent and its registration; phone-state.ts: the snapshot and event log;
 *   in-call.ts: hold/resume, DTMF, stats and remote audio on an established session.
 * - DTMF: SIP INFO with application/dtmf-relay, or RFC 4733 telephone-events.
 * - Received DTMF: with dtmfReceive 'info' the phone asks for the far end's digits as SIP INFO
 *   (`Recv-Info: dtmf` in its INVITE or 200, RFC 6086); every DTMF INFO that arrives is recorded
 *   (receivedDtmf, snapshot.receivedDigits) whatever the mode.
 */
import { Invitation, Inviter, SessionState, UserAgent, type Session } from 'sip.js';
import { dialTarget } from './addresses';
import { RECV_INFO_DTMF, normaliseDigit, parseDtmfInfo } from './dtmf';
import { playRemoteAudio, reInviteHold, sendInfoDtmf, sendRfc4733Dtmf, sessionStats } from './in-call';
import { PhoneState, type PhoneListener } from './phone-state';
import { SignIn, messageOf, reasonOf } from './sign-in';
import type { CallOutcome, CallStats, DtmfMode, DtmfReceiveMode, PhoneEvent, PhoneSnapshot, ReceivedDtmf, SignInOptions } from './types';

export type { PhoneListener } from './phone-state';

const AUDIO_ONLY: MediaStreamConstraints = { audio: true, video: false };

export interface PhoneOptions {
  /** Where remote audio plays. */
  remoteAudio?: HTMLAudioElement;
  /** Ask for the far end's DTMF as SIP INFO ('info') or not ('rfc4733', the default). */
  dtmfReceive?: DtmfReceiveMode;
}

interface CurrentCall {
  session: Session;
  direction: 'outgoing' | 'incoming';
  remote: string;
  /** Set just before we end the call, so Terminated knows why. */
  ending?: Omit<CallOutcome, 'direction' | 'remote'>;
  /** Set when the far end answered (the call was established at some point). */
  established: boolean;
}

export class Phone {
  private readonly state: PhoneState;
  private readonly signIn: SignIn;
  private current: CurrentCall | undefined;

  constructor(private readonly options: PhoneOptions = {}) {
    this.state = new PhoneState({ registration: 'signed-out', call: 'idle', dtmfReceive: options.dtmfReceive ?? 'rfc4733', receivedDigits: '' });
    this.signIn = new SignIn(
      this.state,
      (invitation) => this.onIncoming(invitation),
      async () => {
        if (this.current) await this.hangup();
      },
    );
  }

  // ---- state -----------------------------------------------------------------------------------

  get snapshot(): PhoneSnapshot {
    return this.state.snapshot;
  }

  /** What happened, oldest first (the last 200 events). */
  get events(): PhoneEvent[] {
    return this.state.events;
  }

  /** Digits received as SIP INFO in the current call (or the last one), oldest first. */
  get receivedDtmf(): ReceivedDtmf[] {
    return this.state.received.map((d) => ({ ...d }));
  }

  /** Ask for the far end's DTMF as SIP INFO ('info') or not ('rfc4733'), from the next call on. */
  setDtmfReceive(mode: DtmfReceiveMode): void {
    if (mode !== 'info' && mode !== 'rfc4733') throw this.state.fail(`unknown DTMF receive mode ${String(mode)}`);
    if (mode === this.state.current.dtmfReceive) return;
    this.state.record('dtmf-receive', mode);
    this.state.update({ dtmfReceive: mode });
  }

  /** Headers that ask for DTMF as INFO (RFC 6086 Recv-Info), for our INVITE or 200. */
  private dtmfReceiveHeaders(): string[] {
    return this.state.current.dtmfReceive === 'info' ? [RECV_INFO_DTMF] : [];
  }

  /** Calls listener now and on every change; returns the unsubscribe function. */
  subscribe(listener: PhoneListener): () => void {
    return this.state.subscribe(listener);
  }

  // ---- registration ----------------------------------------------------------------------------

  /** Connects to the server and registers; resolves once registered, rejects (and shows why) otherwise. */
  register(options: SignInOptions): Promise<void> {
    return this.signIn.register(options);
  }

  /** Unregisters (best effort), closes the connection; the phone is signed out afterwards. */
  unregister(): Promise<void> {
    return this.signIn.unregister();
  }

  // ---- calls -----------------------------------------------------------------------------------

  private requireUserAgent(): UserAgent {
    const ua = this.signIn.userAgent;
    if (!ua) throw this.state.fail('Sign in first');
    return ua;
  }

  /** Calls `target`; resolves once answered, rejects with the reason (e.g. "486 Busy Here") otherwise. */
  async call(target: string): Promise<void> {
    const ua = this.requireUserAgent();
    if (this.current) throw this.state.fail('A call is already in progress');
    let uri: string;
    try {
      uri = dialTarget(target, this.signIn.addresses!.domain);
    } catch (error) {
      throw this.state.fail(messageOf(error));
    }
    const targetUri = UserAgent.makeURI(uri);
    if (!targetUri) throw this.state.fail(`"${target}" is not a valid SIP address`);

    // earlyMedia: play the SDP of an unreliable 183 (ringback/announcements from the far end).
    const inviter = new Inviter(ua, targetUri, {
      earlyMedia: true,
      extraHeaders: this.dtmfReceiveHeaders(),
      sessionDescriptionHandlerOptions: { constraints: AUDIO_ONLY },
    });
    const call: CurrentCall = { session: inviter, direction: 'outgoing', remote: uri, established: false };
    this.track(call);
    this.state.update({ direction: 'outgoing', remote: uri, error: undefined });
    this.state.setCall('calling');
    const outcome = this.outcomeOf(call);
    outcome.catch(() => undefined); // awaited below; this only keeps an early throw from leaving it unhandled
    try {
      await inviter.invite({
        requestDelegate: {
          onProgress: (response) => {
            const code = response.message.statusCode ?? 0;
            this.state.record('progress', reasonOf(response).reason);
            if (code > 100 && this.current === call && this.state.current.call === 'calling') this.state.setCall('ringing');
          },
          onReject: (response) => {
            const { statusCode, reason } = reasonOf(response);
            call.ending ??= { outcome: 'failed', statusCode, reason };
          },
        },
      });
    } catch (error) {
      call.ending ??= { outcome: 'failed', reason: messageOf(error) };
      if (inviter.state !== SessionState.Terminated) {
        // the INVITE never left (e.g. no microphone): end the call here
        this.finish(call);
        await inviter.dispose().catch(() => undefined);
        throw new Error(`Call failed: ${call.ending.reason}`);
      }
    }
    await outcome;
  }

  /** Resolves when the call is established, rejects with the failure when it ends before that. */
  private outcomeOf(call: CurrentCall): Promise<void> {
    return new Promise((resolve, reject) => {
      call.session.stateChange.addListener((state) => {
        if (state === SessionState.Established) resolve();
        if (state === SessionState.Terminated && !call.established) {
          // after finish() (queued first, see track()) has recorded the outcome
          queueMicrotask(() => {
            const outcome = this.state.current.lastCall;
            reject(new Error(outcome ? `Call ${outcome.outcome}: ${outcome.reason}` : 'Call ended'));
          });
        }
      });
    });
  }

  private onIncoming(invitation: Invitation): void {
    const remote = invitation.remoteIdentity.uri.toString();
    const name = invitation.remoteIdentity.displayName;
    this.state.record('incoming', remote);
    if (this.current) {
      this.state.record('busy', `rejected ${remote}: already in a call`);
      void invitation.reject({ statusCode: 486 }).catch(() => undefined);
      return;
    }
    const call: CurrentCall = { session: invitation, direction: 'incoming', remote: name ? `${name} <${remote}>` : remote, established: false };
    this.track(call);
    invitation.delegate = {
      ...invitation.delegate,
      onCancel: () => {
        call.ending ??= { outcome: 'missed', reason: 'caller hung up before answer' };
      },
    };
    this.state.update({ direction: 'incoming', remote: call.remote, error: undefined });
    this.state.setCall('incoming');
  }

  /** Answers the incoming call; resolves once established. */
  async answer(): Promise<void> {
    const call = this.current;
    if (!call || call.direction !== 'incoming' || this.state.current.call !== 'incoming') throw this.state.fail('No incoming call to answer');
    const invitation = call.session as Invitation;
    this.state.setCall('answering');
    const established = this.outcomeOf(call);
    established.catch(() => undefined); // awaited below
    try {
      await invitation.accept({ extraHeaders: this.dtmfReceiveHeaders(), sessionDescriptionHandlerOptions: { constraints: AUDIO_ONLY } });
    } catch (error) {
      call.ending ??= { outcome: 'failed', reason: `answer failed: ${messageOf(error)}` };
      if (invitation.state !== SessionState.Terminated) {
        await invitation.reject({ statusCode: 488 }).catch(() => undefined);
        this.finish(call);
        throw new Error(`Call failed: ${call.ending.reason}`);
      }
    }
    await established;
  }

  /** Rejects the incoming call (486 Busy Here by default). */
  async decline(statusCode = 486): Promise<void> {
    const call = this.current;
    if (!call || call.direction !== 'incoming' || this.state.current.call !== 'incoming') throw this.state.fail('No incoming call to decline');
    call.ending = { outcome: 'declined', statusCode, reason: `declined with ${statusCode}` };
    await (call.session as Invitation).reject({ statusCode });
  }

  /** Ends the call whatever its stage: BYE when established, CANCEL when calling, 603 when ringing in. */
  async hangup(): Promise<void> {
    const call = this.current;
    if (!call) throw this.state.fail('No call to hang up');
    const session = call.session;
    switch (session.state) {
      case SessionState.Initial:
      case SessionState.Establishing:
        if (session instanceof Inviter) {
          call.ending ??= { outcome: 'cancelled', reason: 'cancelled' };
          this.state.setCall('ending');
          await session.cancel();
        } else {
          call.ending ??= { outcome: 'declined', statusCode: 603, reason: 'declined with 603' };
          await (session as Invitation).reject({ statusCode: 603 });
        }
        return;
      case SessionState.Established:
        call.ending ??= { outcome: 'ended', reason: 'hung up' };
        this.state.setCall('ending');
        await session.bye();
        return;
      default:
        return; // already ending
    }
  }

  /** Puts the call on hold: re-INVITE offering a=sendonly; resolves when the far end accepted. */
  hold(): Promise<void> {
    return this.setHold(true);
  }

  /** Takes the call off hold: re-INVITE offering a=sendrecv. */
  unhold(): Promise<void> {
    return this.setHold(false);
  }

  private async setHold(hold: boolean): Promise<void> {
    const call = this.current;
    if (!call || call.session.state !== SessionState.Established) throw this.state.fail(hold ? 'No active call to hold' : 'No call to resume');
    if ((this.state.current.call === 'held') === hold) return;
    this.state.record(hold ? 'hold' : 'resume', 'sending re-INVITE');
    try {
      await reInviteHold(call.session, hold);
    } catch (error) {
      throw this.state.fail(messageOf(error));
    }
    if (this.current === call) this.state.setCall(hold ? 'held' : 'active');
  }

  /** Sends one DTMF digit, as SIP INFO (default) or as RFC 4733 telephone-events in the RTP stream. */
  async sendDtmf(digit: string, mode: DtmfMode = 'info'): Promise<void> {
    const call = this.current;
    if (!call || call.session.state !== SessionState.Established) throw this.state.fail('DTMF needs an active call');
    let tone: string;
    try {
      tone = normaliseDigit(digit);
    } catch (error) {
      throw this.state.fail(messageOf(error));
    }
    if (mode !== 'info' && mode !== 'rfc4733') throw this.state.fail(`unknown DTMF mode ${String(mode)}`);
    try {
      await (mode === 'info' ? sendInfoDtmf(call.session, tone) : sendRfc4733Dtmf(call.session, tone));
      this.state.record('dtmf', `${tone} (${mode === 'info' ? 'INFO' : 'RFC 4733'})`);
    } catch (error) {
      throw this.state.fail(messageOf(error));
    }
  }

  /** getStats numbers of the current call, or undefined without a call (or before media setup). */
  async stats(): Promise<CallStats | undefined> {
    return this.current && sessionStats(this.current.session);
  }

  // ---- session bookkeeping ---------------------------------------------------------------------

  private track(call: CurrentCall): void {
    this.current = call;
    this.state.received = [];
    if (this.state.current.receivedDigits) this.state.update({ receivedDigits: '' });
    const session = call.session;
    session.delegate = {
      ...session.delegate,
      onBye: (bye) => {
        call.ending ??= { outcome: 'ended', reason: 'remote hung up' };
        void bye.accept();
      },
      onInfo: (info) => {
        this.state.record('info-received', info.request.body);
        const dtmf = parseDtmfInfo(info.request.getHeader('Content-Type'), info.request.body);
        if (dtmf && this.current === call) {
          this.state.received.push({ ...dtmf, at: this.state.elapsedMs() });
          this.state.record('dtmf-received', `${dtmf.digit} (INFO)`);
          this.state.update({ receivedDigits: this.state.current.receivedDigits + dtmf.digit });
        }
        void info.accept();
      },
      onInvite: (request) => {
        this.state.record('reinvite-received', /a=(sendonly|recvonly|inactive|sendrecv)/.exec(request.body)?.[1]);
      },
    };
    session.stateChange.addListener((state) => {
      this.state.record('session', state);
      if (state === SessionState.Established) {
        call.established = true;
        playRemoteAudio(session, this.options.remoteAudio, (why) => this.state.record('audio', `autoplay blocked: ${why}`));
        if (this.current === call) this.state.setCall('active');
      } else if (state === SessionState.Terminating) {
        if (this.current === call && this.state.current.call !== 'ending') this.state.setCall('ending');
      } else if (state === SessionState.Terminated) {
        // sip.js enters Terminated before it hands the final response to our requestDelegate
        // (Inviter.onReject), so look at call.ending a moment later
        queueMicrotask(() => this.finish(call));
      }
    });
  }

  private finish(call: CurrentCall): void {
    if (this.current !== call) return;
    this.current = undefined;
    const ending = call.ending ?? (call.established ? { outcome: 'ended' as const, reason: 'call ended' } : { outcome: 'failed' as const, reason: 'call failed' });
    const lastCall: CallOutcome = { direction: call.direction, remote: call.remote, ...ending };
    this.state.record('ended', `${lastCall.outcome}: ${lastCall.reason}`);
    if (this.options.remoteAudio) this.options.remoteAudio.srcObject = null;
    const error = lastCall.outcome === 'failed' ? `Call failed: ${lastCall.reason}` : this.state.current.error;
    if (lastCall.outcome === 'failed') this.state.record('error', error);
    this.state.update({ lastCall, direction: undefined, remote: undefined, error });
    this.state.setCall('idle');
  }
}
