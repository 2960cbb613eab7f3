/**
 * Signing in and out: one sip.js UserAgent (the WebSocket to the gateway) and its Registerer.
 * Every failure becomes a readable registrationError on the phone's state (PhoneState).
 */
import { Registerer, RegistererState, UserAgent, type Core, type Invitation } from 'sip.js';
import { AddressError, signInAddresses, type SignInAddresses } from './addresses';
import type { PhoneState } from './phone-state';
import type { SignInOptions } from './types';

const REGISTER_TIMEOUT_MS = 15_000;
const UNREGISTER_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_S = 5;
/** sip.js waits for ICE gathering to complete before sending SDP; host candidates take a few ms. */
const ICE_GATHERING_TIMEOUT_MS = 2_000;

export function reasonOf(response: Core.IncomingResponse): { statusCode: number; reason: string } {
  const { statusCode = 0, reasonPhrase = '' } = response.message;
  return { statusCode, reason: `${statusCode} ${reasonPhrase}`.trim() };
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class SignIn {
  private ua: UserAgent | undefined;
  private registerer: Registerer | undefined;
  /** The addresses of the current (or last) sign-in. */
  addresses: SignInAddresses | undefined;

  /** `onInvite`: an incoming call; `onSignOut`: called first when signing out (ends a call). */
  constructor(
    private readonly state: PhoneState,
    private readonly onInvite: (invitation: Invitation) => void,
    private readonly onSignOut: () => Promise<void>,
  ) {}

  /** The user agent, when signed in (registered). */
  get userAgent(): UserAgent | undefined {
    return this.ua && this.state.current.registration === 'registered' ? this.ua : undefined;
  }

  /** Connects to the server and registers; resolves once registered, rejects (and shows why) otherwise. */
  async register(options: SignInOptions): Promise<void> {
    if (this.ua) await this.unregister();
    const state = this.state;
    let addresses: SignInAddresses;
    try {
      addresses = signInAddresses(options.server, options.user, options.authorizationUser);
    } catch (error) {
      const message = error instanceof AddressError ? error.message : messageOf(error);
      state.setRegistration('failed', message);
      throw state.fail(message);
    }
    this.addresses = addresses;
    state.update({ error: undefined, aor: addresses.aor });
    state.setRegistration('connecting');

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
        onInvite: (invitation) => this.onInvite(invitation),
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
      state.setRegistration('failed', message);
      throw state.fail(message);
    }
    if (this.ua !== ua) throw state.fail('signed out while connecting');
    state.record('connected', addresses.server);
    state.setRegistration('registering');

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
        state.setRegistration('failed', error);
        reject(state.fail(error));
        void this.dropUserAgent(ua);
      };
      const timer = setTimeout(() => settle(`No answer from the registrar within ${REGISTER_TIMEOUT_MS / 1000} s`), REGISTER_TIMEOUT_MS);
      registerer.stateChange.addListener((registererState) => {
        if (this.registerer !== registerer) return;
        state.record('registerer', registererState);
        if (registererState === RegistererState.Registered) {
          if (state.current.registration !== 'registered') state.setRegistration('registered');
          settle();
        } else if (registererState === RegistererState.Unregistered && state.current.registration === 'registered') {
          // the registration lapsed (a refresh failed)
          state.setRegistration('failed', 'The registration ended (refresh failed)');
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
    this.state.setRegistration('signing-out');
    await this.onSignOut().catch(() => undefined);
    const registerer = this.registerer;
    if (registerer && registerer.state === RegistererState.Registered) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, UNREGISTER_TIMEOUT_MS);
        registerer.stateChange.addListener((registererState) => {
          if (registererState !== RegistererState.Registered) {
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
    this.state.update({ aor: undefined });
    this.state.setRegistration('signed-out');
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
    this.state.setRegistration('failed', message);
    this.state.fail(message);
    void this.dropUserAgent(ua);
  }
}
