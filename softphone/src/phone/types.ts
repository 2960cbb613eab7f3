/** Public types of the softphone core (src/phone) and of its test API (window.gatewayPhone). */

/** Where the phone stands with the registrar. */
export type RegistrationState =
  | 'signed-out' //   no user agent
  | 'connecting' //   opening the WebSocket
  | 'registering' //  REGISTER sent, waiting for 200
  | 'registered'
  | 'signing-out' //  un-REGISTER / closing
  | 'failed'; //      last sign-in failed or the connection dropped (see registrationError)

/** The one call the phone handles at a time. */
export type CallState =
  | 'idle'
  | 'calling' //    outgoing INVITE sent, no provisional answer yet
  | 'ringing' //    outgoing, the far end sent 180/183
  | 'incoming' //   an INVITE is waiting for answer() or decline()
  | 'answering' //  accept() in progress (getUserMedia, ICE gathering, 200 OK)
  | 'active'
  | 'held' //       we put the call on hold (re-INVITE with a=sendonly)
  | 'ending'; //    BYE / CANCEL sent

export type DtmfMode = 'info' | 'rfc4733';

/**
 * How we want the far end's digits: 'rfc4733' (default) takes them as they come; 'info' asks for
 * SIP INFO with `Recv-Info: dtmf` in our INVITE or 200 (RFC 6086), so the gateway converts the
 * far end's RFC 4733 telephone-events into INFO (browsers cannot observe received telephone-events).
 * Applies from the next call on.
 */
export type DtmfReceiveMode = DtmfMode;

/** A digit received in a SIP INFO during the current (or last) call. */
export interface ReceivedDtmf {
  digit: string;
  /** Duration from the INFO body, when it had one. */
  durationMs?: number;
  /** ms since the page loaded */
  at: number;
}

export interface SignInOptions {
  /** The gateway's WebSocket URL, e.g. `wss://127.0.0.1:8443`. */
  server: string;
  /** `alice` (the domain is then the server's host) or `alice@example.com`. */
  user: string;
  /** Digest password. */
  password?: string;
  /** Digest user name when it differs from the user part of the address. */
  authorizationUser?: string;
  displayName?: string;
  /** ICE servers (STUN/TURN) for calls; none by default. */
  iceServers?: RTCIceServer[];
  /** Registration lifetime in seconds (default 600). */
  expires?: number;
}

/** How the last call ended. */
export interface CallOutcome {
  direction: 'outgoing' | 'incoming';
  remote: string;
  /** failed: rejected or unreachable; missed: the caller cancelled; declined: we rejected it. */
  outcome: 'ended' | 'failed' | 'cancelled' | 'missed' | 'declined';
  /** The SIP status of a failed or declined call (e.g. 486). */
  statusCode?: number;
  /** Human-readable, e.g. "486 Busy Here" or "remote hung up". */
  reason: string;
}

export interface PhoneSnapshot {
  registration: RegistrationState;
  registrationError?: string;
  /** The address of record while signed in, e.g. `sip:alice@127.0.0.1`. */
  aor?: string;
  call: CallState;
  /** The other party of the current call (or of the incoming one). */
  remote?: string;
  direction?: 'outgoing' | 'incoming';
  lastCall?: CallOutcome;
  /** The last error of any kind, as shown on the page. */
  error?: string;
  /** Whether we ask for the far end's DTMF as SIP INFO (see DtmfReceiveMode). */
  dtmfReceive: DtmfReceiveMode;
  /** Digits received as SIP INFO in the current call (or the last one), e.g. "12#". */
  receivedDigits: string;
}

/** Media statistics of the current call (RTCPeerConnection.getStats). */
export interface CallStats {
  connectionState: RTCPeerConnectionState;
  iceConnectionState: RTCIceConnectionState;
  /** inbound-rtp (audio) */
  packetsReceived: number;
  packetsLost: number;
  /** 0..1; undefined until Chromium has measured it. */
  audioLevel?: number;
  totalAudioEnergy?: number;
  jitter?: number;
  /** outbound-rtp (audio) */
  packetsSent: number;
  /** e.g. "audio/opus" */
  codec?: string;
  /** The selected ICE pair, "address:port/protocol typ type". */
  localCandidate?: string;
  remoteCandidate?: string;
}

export interface PhoneEvent {
  /** ms since the page loaded */
  at: number;
  type: string;
  detail?: string;
}
