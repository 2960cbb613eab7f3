/**
 * The softphone core: a thin layer over sip.js's UserAgent + Registerer + Inviter/Invitation.
 *
 * One registration and one call at a time. Every change of state is published as a PhoneSnapshot
 * to the listeners (the page and the test API), and every failure ends up as a readable message
 * in snapshot.error / registrationError / lastCall.reason so the page can show it.
 *
 * - hold/unhold: re-INVITE with a=sendonly / a=sendrecv (sip.js's SessionDescriptionHandler
 *   `hold` option), local sender and receiver tracks disabled while held.
 * - DTMF: SIP INFO with application/dtmf-relay ("Signal=5\r\nDuration=160"), or RFC 4733
 *   telephone-events through the audio sender's RTCDTMFSender.
 * - Received DTMF: with dtmfReceive 'info' the phone asks for the far end's digits as SIP INFO
 *   (`Recv-Info: dtmf` in its INVITE or 200, RFC 6086); every DTMF INFO that arrives is recorded
 *   (receivedDtmf, snapshot.receivedDigits) whatever the mode.
 */
import {
  Invitation,
  Inviter,
  Registerer,
  RegistererState,
  SessionState,
  UserAgent,
  Web,
  type Core,
  type Session,
} from 'sip.js';
import { AddressError, dialTarget, signInAddresses, type SignInAddresses } from './addresses';
import { DTMF_DURATION_MS, DTMF_GAP_MS, RECV_INFO_DTMF, dtmfRelayBody, normaliseDigit, parseDtmfInfo } from './dtmf';
import { summariseStats } from './stats';
import type {
  CallOutcome,
  CallState,
  CallStats,
  DtmfMode,
  DtmfReceiveMode,
  PhoneEvent,
  PhoneSnapshot,
  ReceivedDtmf,
  RegistrationState,
  SignInOptions,
} from './types';

const REGISTER_TIMEOUT_MS = 15_000;
const UNREGISTER_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_S = 5;
/** sip.js waits for ICE gathering to complete before sending SDP; host candidates take a few ms. */
const ICE_GATHERING_TIMEOUT_MS = 2_000;
const MAX_EVENTS = 200;

const AUDIO_ONLY: MediaStreamConstraints = { audio: true, video: false };

export type PhoneListener = (snapshot: PhoneSnapshot) => void;

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

function reasonOf(response: Core.IncomingResponse): { statusCode: number; reason: string } {
  const { statusCode = 0, reasonPhrase = '' } = response.message;
  return { statusCode, reason: `${statusCode} ${reasonPhrase}`.trim() };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Phone {
  private ua: UserAgent | undefined;
  private registerer: Registerer | undefined;
  private addresses: SignInAddresses | undefined;
  private current: CurrentCall | undefined;
  private state: PhoneSnapshot;
  private readonly listeners = new Set<PhoneListener>();
  private readonly log: PhoneEvent[] = [];
  private readonly startedAt = performance.now();
  private received: ReceivedDtmf[] = [];

  constructor(private readonly options: PhoneOptions = {}) {
    this.state = { registration: 'signed-out', call: 'idle', dtmfReceive: options.dtmfReceive ?? 'rfc4733', receivedDigits: '' };
  }

  // ---- state -----------------------------------------------------------------------------------

  get snapshot(): PhoneSnapshot {
    return { ...this.state, lastCall: this.state.lastCall && { ...this.state.lastCall } };
  }

  /** What happened, oldest first (the last 200 events). */
  get events(): PhoneEvent[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** Digits received as SIP INFO in the current call (or the last one), oldest first. */
  get receivedDtmf(): ReceivedDtmf[] {
    return this.received.map((d) => ({ ...d }));
  }

  /** Ask for the far end's DTMF as SIP INFO ('info') or not ('rfc4733'), from the next call on. */
  setDtmfReceive(mode: DtmfReceiveMode): void {
    if (mode !== 'info' && mode !== 'rfc4733') throw this.fail(`unknown DTMF receive mode ${String(mode)}`);
    if (mode === this.state.dtmfReceive) return;
    this.record('dtmf-receive', mode);
    this.update({ dtmfReceive: mode });
  }

  /** Headers that ask for DTMF as INFO (RFC 6086 Recv-Info), for our INVITE or 200. */
  private dtmfReceiveHeaders(): string[] {
    return this.state.dtmfReceive === 'info' ? [RECV_INFO_DTMF] : [];
  }

  /** Calls listener now and on every change; returns the unsubscribe function. */
  subscribe(listener: PhoneListener): () => void {
    this.listeners.add(listener);
    listener(this.snapshot);
    return () => this.listeners.delete(listener);
  }

  private update(patch: Partial<PhoneSnapshot>): void {
    this.state = { ...this.state, ...patch };
    for (const key of Object.keys(patch) as Array<keyof PhoneSnapshot>) {
      if (patch[key] === undefined) delete this.state[key];
    }
    const snapshot = this.snapshot;
    for (const listener of this.listeners) listener(snapshot);
  }

  private record(type: string, detail?: string): void {
    this.log.push({ at: Math.round(performance.now() - this.startedAt), type, detail });
    if (this.log.length > MAX_EVENTS) this.log.shift();
  }

  /** Records an error, shows it, and returns it as an Error to throw. */
  private fail(message: string): Error {
    this.record('error', message);
    this.update({ error: message });
    return new Error(message);
  }

  private setRegistration(registration: RegistrationState, registrationError?: string): void {
    this.record('registration', registrationError ? `${registration}: ${registrationError}` : registration);
    this.update({ registration, registrationError });
  }

  private setCall(call: CallState): void {
    this.record('call', call);
    this.update({ call });
  }

  // ---- registration ----------------------------------------------------------------------------

  /** Connects to the server and registers; resolves once registered, rejects (and shows why) otherwise. */
  async register(options: SignInOptions): Promise<void> {
    if (this.ua) await this.unregister();
    let addresses: SignInAddresses;
    try {
      addresses = signInAddresses(options.server, options.user, options.authorizationUser);
    } catch (error) {
      const message = error instanceof AddressError ? error.message : messageOf(error);
      this.setRegistration('failed', message);
      throw this.fail(message);
    }
    this.addresses = addresses;
    this.update({ error: undefined, aor: addresses.aor });
    this.setRegistration('connecting');

    const ua = new UserAgent({
      uri: UserAgent.makeURI(addresses.aor),
      // Contact sip:<user>@<random>.invalid;transport=ws (sip.js's default user part is random):
      // the gateway can then reach this browser as sip:<user>@<contact host> over the same WebSocket.
      contactName: addresses.user,
      displayName: options.displayName,
      authorizationUsername: addresses.authorizationUser,
      authorizationPassword: options.password ?? '',
      transportOptions: { server: addresses.server, connectionTimeout: CONNECT_TIMEOUT_S, traceSip: false },
      logLevel: 'warn',
      sessionDescriptionHandlerFactoryOptions: {
        iceGatheringTimeout: ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: { iceServers: options.iceServers ?? [] },
      },
      delegate: {
        onInvite: (invitation) => this.onIncoming(invitation),
        onDisconnect: (error) => this.onDisconnect(ua, error),
      },
    });
    this.ua = ua;
    try {
      await ua.start();
    } catch (error) {
      await this.dropUserAgent(ua);
      // Browsers give no reason for a failed WebSocket (always code 1006), and an untrusted
      // self-signed certificate looks exactly like a server that is down.
      const message =
        `Cannot connect to ${addresses.server}: ${messageOf(error)}. Is the gateway running, and does this browser ` +
        `trust its certificate? (Open ${addresses.server.replace(/^ws/, 'http')} once to check.)`;
      this.setRegistration('failed', message);
      throw this.fail(message);
    }
    if (this.ua !== ua) throw this.fail('signed out while connecting');
    this.record('connected', addresses.server);
    this.setRegistration('registering');

    const registerer = new Registerer(ua, {
      expires: options.expires ?? 600,
      registrar: UserAgent.makeURI(addresses.registrar),
    });
    this.registerer = registerer;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) {
          resolve();
          return;
        }
        this.setRegistration('failed', error);
        reject(this.fail(error));
        void this.dropUserAgent(ua);
      };
      const timer = setTimeout(() => settle(`No answer from the registrar within ${REGISTER_TIMEOUT_MS / 1000} s`), REGISTER_TIMEOUT_MS);
      registerer.stateChange.addListener((state) => {
        if (this.registerer !== registerer) return;
        this.record('registerer', state);
        if (state === RegistererState.Registered) {
          if (this.state.registration !== 'registered') this.setRegistration('registered');
          settle();
        } else if (state === RegistererState.Unregistered && this.state.registration === 'registered') {
          // the registration lapsed (a refresh failed)
          this.setRegistration('failed', 'The registration ended (refresh failed)');
        }
      });
      registerer
        .register({
          requestDelegate: {
            onReject: (response) => {
              const { statusCode, reason } = reasonOf(response);
              const hint = statusCode === 401 || statusCode === 403 || statusCode === 407 ? ' (check user name and password)' : '';
              settle(`Registration rejected: ${reason}${hint}`);
            },
          },
        })
        .catch((error: unknown) => settle(`Registration failed: ${messageOf(error)}`));
    });
  }

  /** Unregisters (best effort), closes the connection; the phone is signed out afterwards. */
  async unregister(): Promise<void> {
    const ua = this.ua;
    if (!ua) return;
    this.setRegistration('signing-out');
    if (this.current) await this.hangup().catch(() => undefined);
    const registerer = this.registerer;
    if (registerer && registerer.state === RegistererState.Registered) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, UNREGISTER_TIMEOUT_MS);
        registerer.stateChange.addListener((state) => {
          if (state !== RegistererState.Registered) {
            clearTimeout(timer);
            resolve();
          }
        });
        registerer
          .unregister({ requestDelegate: { onReject: () => resolve() } })
          .catch(() => resolve());
      });
    }
    await this.dropUserAgent(ua);
    this.update({ aor: undefined });
    this.setRegistration('signed-out');
  }

  private async dropUserAgent(ua: UserAgent): Promise<void> {
    if (this.ua !== ua) return;
    this.ua = undefined;
    const registerer = this.registerer;
    this.registerer = undefined;
    try {
      await registerer?.dispose();
    } catch {
      // already gone
    }
    try {
      await ua.stop();
    } catch {
      // stopping a user agent that never connected can throw; nothing is left to clean up
    }
  }

  private onDisconnect(ua: UserAgent, error?: Error): void {
    if (this.ua !== ua || !error) return; // a normal stop
    const message = `Connection to ${this.addresses?.server ?? 'the server'} lost: ${error.message}`;
    this.setRegistration('failed', message);
    this.fail(message);
    void this.dropUserAgent(ua);
  }

  // ---- calls -----------------------------------------------------------------------------------

  private requireUserAgent(): UserAgent {
    if (!this.ua || this.state.registration !== 'registered') throw this.fail('Sign in first');
    return this.ua;
  }

  /** Calls `target`; resolves once answered, rejects with the reason (e.g. "486 Busy Here") otherwise. */
  async call(target: string): Promise<void> {
    const ua = this.requireUserAgent();
    if (this.current) throw this.fail('A call is already in progress');
    let uri: string;
    try {
      uri = dialTarget(target, this.addresses!.domain);
    } catch (error) {
      throw this.fail(messageOf(error));
    }
    const targetUri = UserAgent.makeURI(uri);
    if (!targetUri) throw this.fail(`"${target}" is not a valid SIP address`);

    // earlyMedia: play the SDP of an unreliable 183 (ringback/announcements from the far end).
    const inviter = new Inviter(ua, targetUri, {
      earlyMedia: true,
      extraHeaders: this.dtmfReceiveHeaders(),
      sessionDescriptionHandlerOptions: { constraints: AUDIO_ONLY },
    });
    const call: CurrentCall = { session: inviter, direction: 'outgoing', remote: uri, established: false };
    this.track(call);
    this.update({ direction: 'outgoing', remote: uri, error: undefined });
    this.setCall('calling');
    const outcome = this.outcomeOf(call);
    outcome.catch(() => undefined); // awaited below; this only keeps an early throw from leaving it unhandled
    try {
      await inviter.invite({
        requestDelegate: {
          onProgress: (response) => {
            const code = response.message.statusCode ?? 0;
            this.record('progress', reasonOf(response).reason);
            if (code > 100 && this.current === call && this.state.call === 'calling') this.setCall('ringing');
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
            const outcome = this.state.lastCall;
            reject(new Error(outcome ? `Call ${outcome.outcome}: ${outcome.reason}` : 'Call ended'));
          });
        }
      });
    });
  }

  private onIncoming(invitation: Invitation): void {
    const remote = invitation.remoteIdentity.uri.toString();
    const name = invitation.remoteIdentity.displayName;
    this.record('incoming', remote);
    if (this.current) {
      this.record('busy', `rejected ${remote}: already in a call`);
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
    this.update({ direction: 'incoming', remote: call.remote, error: undefined });
    this.setCall('incoming');
  }

  /** Answers the incoming call; resolves once established. */
  async answer(): Promise<void> {
    const call = this.current;
    if (!call || call.direction !== 'incoming' || this.state.call !== 'incoming') throw this.fail('No incoming call to answer');
    const invitation = call.session as Invitation;
    this.setCall('answering');
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
    if (!call || call.direction !== 'incoming' || this.state.call !== 'incoming') throw this.fail('No incoming call to decline');
    call.ending = { outcome: 'declined', statusCode, reason: `declined with ${statusCode}` };
    await (call.session as Invitation).reject({ statusCode });
  }

  /** Ends the call whatever its stage: BYE when established, CANCEL when calling, 603 when ringing in. */
  async hangup(): Promise<void> {
    const call = this.current;
    if (!call) throw this.fail('No call to hang up');
    const session = call.session;
    switch (session.state) {
      case SessionState.Initial:
      case SessionState.Establishing:
        if (session instanceof Inviter) {
          call.ending ??= { outcome: 'cancelled', reason: 'cancelled' };
          this.setCall('ending');
          await session.cancel();
        } else {
          call.ending ??= { outcome: 'declined', statusCode: 603, reason: 'declined with 603' };
          await (session as Invitation).reject({ statusCode: 603 });
        }
        return;
      case SessionState.Established:
        call.ending ??= { outcome: 'ended', reason: 'hung up' };
        this.setCall('ending');
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
    if (!call || call.session.state !== SessionState.Established) throw this.fail(hold ? 'No active call to hold' : 'No call to resume');
    if ((this.state.call === 'held') === hold) return;
    const session = call.session;
    const previous = session.sessionDescriptionHandlerOptionsReInvite as Web.SessionDescriptionHandlerOptions;
    session.sessionDescriptionHandlerOptionsReInvite = { ...previous, hold } as Web.SessionDescriptionHandlerOptions;
    this.record(hold ? 'hold' : 'resume', 'sending re-INVITE');
    try {
      await new Promise<void>((resolve, reject) => {
        session
          .invite({
            requestDelegate: {
              onAccept: () => resolve(),
              onReject: (response) => reject(new Error(`${hold ? 'Hold' : 'Resume'} rejected: ${reasonOf(response).reason}`)),
            },
          })
          .catch(reject);
      });
    } catch (error) {
      session.sessionDescriptionHandlerOptionsReInvite = { ...previous, hold: !hold } as Web.SessionDescriptionHandlerOptions;
      throw this.fail(messageOf(error));
    }
    const handler = this.handlerOf(session);
    handler?.enableSenderTracks(!hold);
    handler?.enableReceiverTracks(!hold);
    if (this.current === call) this.setCall(hold ? 'held' : 'active');
  }

  /** Sends one DTMF digit, as SIP INFO (default) or as RFC 4733 telephone-events in the RTP stream. */
  async sendDtmf(digit: string, mode: DtmfMode = 'info'): Promise<void> {
    const call = this.current;
    if (!call || call.session.state !== SessionState.Established) throw this.fail('DTMF needs an active call');
    let tone: string;
    try {
      tone = normaliseDigit(digit);
    } catch (error) {
      throw this.fail(messageOf(error));
    }
    if (mode === 'info') {
      await new Promise<void>((resolve, reject) => {
        call.session
          .info({
            requestOptions: {
              body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: dtmfRelayBody(tone) },
            },
            requestDelegate: {
              onAccept: () => resolve(),
              onReject: (response) => reject(this.fail(`DTMF INFO rejected: ${reasonOf(response).reason}`)),
            },
          })
          .catch((error: unknown) => reject(this.fail(`DTMF INFO failed: ${messageOf(error)}`)));
      });
      this.record('dtmf', `${tone} (INFO)`);
      return;
    }
    if (mode !== 'rfc4733') throw this.fail(`unknown DTMF mode ${String(mode)}`);
    const sender = this.handlerOf(call.session)
      ?.peerConnection?.getSenders()
      .find((s) => s.track?.kind === 'audio' || s.dtmf);
    const dtmf = sender?.dtmf;
    if (!dtmf || !dtmf.canInsertDTMF) throw this.fail('RFC 4733 DTMF is not available on this call (no telephone-event negotiated)');
    await new Promise<void>((resolve) => {
      const done = (): void => {
        dtmf.removeEventListener('tonechange', onTone);
        clearTimeout(timer);
        resolve();
      };
      const onTone = (event: RTCDTMFToneChangeEvent): void => {
        if (event.tone === '') done();
      };
      const timer = setTimeout(done, DTMF_DURATION_MS + DTMF_GAP_MS + 1000);
      dtmf.addEventListener('tonechange', onTone);
      dtmf.insertDTMF(tone, DTMF_DURATION_MS, DTMF_GAP_MS);
    });
    this.record('dtmf', `${tone} (RFC 4733)`);
  }

  /** getStats numbers of the current call, or undefined without a call (or before media setup). */
  async stats(): Promise<CallStats | undefined> {
    const pc = this.current && this.handlerOf(this.current.session)?.peerConnection;
    if (!pc) return undefined;
    const report = await pc.getStats();
    return summariseStats(report as unknown as Parameters<typeof summariseStats>[0], {
      connectionState: pc.connectionState,
      iceConnectionState: pc.iceConnectionState,
    });
  }

  // ---- session bookkeeping ---------------------------------------------------------------------

  private handlerOf(session: Session): Web.SessionDescriptionHandler | undefined {
    const handler = session.sessionDescriptionHandler;
    return handler instanceof Web.SessionDescriptionHandler ? handler : undefined;
  }

  private track(call: CurrentCall): void {
    this.current = call;
    this.received = [];
    if (this.state.receivedDigits) this.update({ receivedDigits: '' });
    const session = call.session;
    session.delegate = {
      ...session.delegate,
      onBye: (bye) => {
        call.ending ??= { outcome: 'ended', reason: 'remote hung up' };
        void bye.accept();
      },
      onInfo: (info) => {
        this.record('info-received', info.request.body);
        const dtmf = parseDtmfInfo(info.request.getHeader('Content-Type'), info.request.body);
        if (dtmf && this.current === call) {
          this.received.push({ ...dtmf, at: Math.round(performance.now() - this.startedAt) });
          this.record('dtmf-received', `${dtmf.digit} (INFO)`);
          this.update({ receivedDigits: this.state.receivedDigits + dtmf.digit });
        }
        void info.accept();
      },
      onInvite: (request) => {
        this.record('reinvite-received', /a=(sendonly|recvonly|inactive|sendrecv)/.exec(request.body)?.[1]);
      },
    };
    session.stateChange.addListener((state) => {
      this.record('session', state);
      if (state === SessionState.Established) {
        call.established = true;
        this.attachRemoteAudio(session);
        if (this.current === call) this.setCall('active');
      } else if (state === SessionState.Terminating) {
        if (this.current === call && this.state.call !== 'ending') this.setCall('ending');
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
    this.record('ended', `${lastCall.outcome}: ${lastCall.reason}`);
    if (this.options.remoteAudio) this.options.remoteAudio.srcObject = null;
    const error = lastCall.outcome === 'failed' ? `Call failed: ${lastCall.reason}` : this.state.error;
    if (lastCall.outcome === 'failed') this.record('error', error);
    this.update({ lastCall, direction: undefined, remote: undefined, error });
    this.setCall('idle');
  }

  private attachRemoteAudio(session: Session): void {
    const audio = this.options.remoteAudio;
    const handler = this.handlerOf(session);
    if (!audio || !handler) return;
    audio.srcObject = handler.remoteMediaStream;
    audio.play().catch((error: unknown) => this.record('audio', `autoplay blocked: ${messageOf(error)}`));
  }
}
