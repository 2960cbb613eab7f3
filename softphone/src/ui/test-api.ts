/**
 * window.gatewayPhone: the page's own phone, scriptable. End-to-end tests (Playwright) drive the
 * real page through it; a person can use it from the devtools console too.
 *
 *   await gatewayPhone.register({ server: 'wss://127.0.0.1:8443', user: 'alice', password: 'secret' })
 *   await gatewayPhone.call('1001')          // resolves when answered; rejects e.g. "Call failed: 486 Busy Here"
 *   gatewayPhone.callState                   // 'active'
 *   await gatewayPhone.sendDtmf('5')         // SIP INFO application/dtmf-relay; sendDtmf('5', 'rfc4733') for RTP
 *   gatewayPhone.setDtmfReceive('info')      // ask for the far end's digits as SIP INFO (Recv-Info: dtmf), next call on
 *   gatewayPhone.receivedDtmf                // [{ digit: '5', durationMs: 200, at }] received as INFO in this call
 *   await gatewayPhone.stats()               // { packetsReceived, audioLevel, packetsSent, ... }
 */
import type { Phone } from '../phone/phone';
import type {
  CallState,
  CallStats,
  DtmfMode,
  DtmfReceiveMode,
  PhoneEvent,
  PhoneSnapshot,
  ReceivedDtmf,
  RegistrationState,
  SignInOptions,
} from '../phone/types';
import type { PageControls } from './page';

export interface GatewayPhoneApi {
  readonly registrationState: RegistrationState;
  readonly callState: CallState;
  /** Everything the page shows, including the last error and how the last call ended. */
  readonly snapshot: PhoneSnapshot;
  readonly events: PhoneEvent[];
  register(options: SignInOptions): Promise<void>;
  unregister(): Promise<void>;
  call(target: string): Promise<void>;
  answer(): Promise<void>;
  decline(statusCode?: number): Promise<void>;
  hangup(): Promise<void>;
  hold(): Promise<void>;
  unhold(): Promise<void>;
  sendDtmf(digit: string, mode?: DtmfMode): Promise<void>;
  /** 'info': ask for the far end's DTMF as SIP INFO (Recv-Info: dtmf in our INVITE/200), from the next call on. */
  setDtmfReceive(mode: DtmfReceiveMode): void;
  readonly dtmfReceive: DtmfReceiveMode;
  /** Digits received as SIP INFO in the current call (or the last one). */
  readonly receivedDtmf: ReceivedDtmf[];
  /** getStats of the current call (inbound-rtp packetsReceived/audioLevel, outbound-rtp packetsSent), or null. */
  stats(): Promise<CallStats | null>;
}

declare global {
  interface Window {
    gatewayPhone: GatewayPhoneApi;
  }
}

export function exposeTestApi(phone: Phone, page: PageControls): GatewayPhoneApi {
  const api: GatewayPhoneApi = {
    get registrationState() {
      return phone.snapshot.registration;
    },
    get callState() {
      return phone.snapshot.call;
    },
    get snapshot() {
      return phone.snapshot;
    },
    get events() {
      return phone.events;
    },
    register(options) {
      page.showSignIn(options);
      return phone.register(options);
    },
    unregister: () => phone.unregister(),
    call: (target) => phone.call(target),
    answer: () => phone.answer(),
    decline: (statusCode) => phone.decline(statusCode),
    hangup: () => phone.hangup(),
    hold: () => phone.hold(),
    unhold: () => phone.unhold(),
    sendDtmf: (digit, mode) => phone.sendDtmf(digit, mode),
    setDtmfReceive: (mode) => phone.setDtmfReceive(mode),
    get dtmfReceive() {
      return phone.snapshot.dtmfReceive;
    },
    get receivedDtmf() {
      return phone.receivedDtmf;
    },
    stats: async () => (await phone.stats()) ?? null,
  };
  window.gatewayPhone = api;
  return api;
}
