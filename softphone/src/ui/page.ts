/**
 * The page: binds the static markup of index.html to a Phone. Buttons are enabled only when
 * their action makes sense; every error the phone reports is shown in #error.
 */
import type { Phone } from '../phone/phone';
import { dtmfReceiveFromUrl } from '../phone/dtmf';
import type { DtmfMode, DtmfReceiveMode, PhoneEvent, PhoneSnapshot, SignInOptions } from '../phone/types';

const KEYPAD = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const STORAGE_KEY = 'gateway-softphone';

const REGISTRATION_TEXT: Record<PhoneSnapshot['registration'], string> = {
  'signed-out': 'signed out',
  connecting: 'connecting…',
  registering: 'registering…',
  registered: 'Registered',
  'signing-out': 'signing out…',
  failed: 'failed',
};

const CALL_TEXT: Record<PhoneSnapshot['call'], string> = {
  idle: 'idle',
  calling: 'calling…',
  ringing: 'ringing…',
  incoming: 'incoming call',
  answering: 'answering…',
  active: 'in call',
  held: 'on hold',
  ending: 'hanging up…',
};

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

/** The form values the page starts with: ?server=&user= from the URL, else the last sign-in, else a guess. */
function initialSignIn(): { server: string; user: string } {
  const params = new URLSearchParams(location.search);
  let saved: { server?: string; user?: string } = {};
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as typeof saved;
  } catch {
    // no storage or garbage in it
  }
  return {
    server: params.get('server') ?? saved.server ?? `wss://${location.host}`,
    user: params.get('user') ?? saved.user ?? '',
  };
}

export interface PageControls {
  /** Mirrors programmatic sign-ins (the test API) into the form. */
  showSignIn(options: SignInOptions): void;
}

export function mountPage(phone: Phone): PageControls {
  const server = element<HTMLInputElement>('server');
  const user = element<HTMLInputElement>('user');
  const password = element<HTMLInputElement>('password');
  const signIn = element<HTMLButtonElement>('sign-in');
  const signOut = element<HTMLButtonElement>('sign-out');
  const registration = element<HTMLElement>('registration-state');
  const aor = element<HTMLElement>('aor');
  const target = element<HTMLInputElement>('target');
  const call = element<HTMLButtonElement>('call');
  const hangup = element<HTMLButtonElement>('hangup');
  const hold = element<HTMLButtonElement>('hold');
  const resume = element<HTMLButtonElement>('resume');
  const incoming = element<HTMLElement>('incoming');
  const incomingFrom = element<HTMLElement>('incoming-from');
  const answer = element<HTMLButtonElement>('answer');
  const decline = element<HTMLButtonElement>('decline');
  const callState = element<HTMLElement>('call-state');
  const callRemote = element<HTMLElement>('call-remote');
  const lastCall = element<HTMLElement>('last-call');
  const keypad = element<HTMLElement>('keypad');
  const dtmfMode = element<HTMLSelectElement>('dtmf-mode');
  const dtmfReceive = element<HTMLSelectElement>('dtmf-receive');
  const dtmfReceived = element<HTMLElement>('dtmf-received');
  const errorBox = element<HTMLElement>('error');
  const log = element<HTMLOListElement>('log');

  const initial = initialSignIn();
  server.value = initial.server;
  user.value = initial.user;
  const receiveFromUrl = dtmfReceiveFromUrl(location.search);
  if (receiveFromUrl) phone.setDtmfReceive(receiveFromUrl);
  dtmfReceive.addEventListener('change', () => phone.setDtmfReceive(dtmfReceive.value as DtmfReceiveMode));

  const keys = KEYPAD.map((digit) => {
    const key = document.createElement('button');
    key.type = 'button';
    key.textContent = digit;
    key.dataset.digit = digit;
    key.addEventListener('click', () => void phone.sendDtmf(digit, dtmfMode.value as DtmfMode).catch(() => undefined));
    keypad.append(key);
    return key;
  });

  // Errors are shown through the snapshot; the handlers only keep rejections from going unhandled.
  element<HTMLFormElement>('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ server: server.value, user: user.value }));
    } catch {
      // storage disabled
    }
    void phone.register({ server: server.value, user: user.value, password: password.value }).catch(() => undefined);
  });
  signOut.addEventListener('click', () => void phone.unregister().catch(() => undefined));
  element<HTMLFormElement>('dial-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void phone.call(target.value).catch(() => undefined);
  });
  hangup.addEventListener('click', () => void phone.hangup().catch(() => undefined));
  hold.addEventListener('click', () => void phone.hold().catch(() => undefined));
  resume.addEventListener('click', () => void phone.unhold().catch(() => undefined));
  answer.addEventListener('click', () => void phone.answer().catch(() => undefined));
  decline.addEventListener('click', () => void phone.decline().catch(() => undefined));

  let shownEvents = 0;
  const appendLog = (events: PhoneEvent[]): void => {
    for (const event of events.slice(shownEvents > events.length ? 0 : shownEvents)) {
      const item = document.createElement('li');
      item.textContent = `${(event.at / 1000).toFixed(2)}s ${event.type}${event.detail ? `: ${event.detail}` : ''}`;
      log.append(item);
    }
    shownEvents = events.length;
    while (log.children.length > 200) log.firstElementChild?.remove();
  };

  phone.subscribe((s) => {
    registration.textContent = REGISTRATION_TEXT[s.registration]; // the reason of a failure is in #error
    registration.dataset.state = s.registration;
    aor.textContent = s.aor && s.registration === 'registered' ? `as ${s.aor}` : '';

    callState.textContent = CALL_TEXT[s.call];
    callState.dataset.state = s.call;
    callRemote.textContent = s.remote ? `${s.direction === 'incoming' ? 'from' : 'to'} ${s.remote}` : '';
    incoming.hidden = s.call !== 'incoming';
    incomingFrom.textContent = s.call === 'incoming' ? (s.remote ?? '') : '';
    lastCall.textContent = s.lastCall ? `Last call (${s.lastCall.direction}, ${s.lastCall.remote}): ${s.lastCall.outcome} — ${s.lastCall.reason}` : '';
    lastCall.dataset.outcome = s.lastCall?.outcome ?? '';
    lastCall.dataset.status = s.lastCall?.statusCode ? String(s.lastCall.statusCode) : '';

    errorBox.hidden = !s.error;
    errorBox.textContent = s.error ?? '';

    const busy = s.registration === 'connecting' || s.registration === 'registering' || s.registration === 'signing-out';
    signIn.disabled = busy;
    signOut.disabled = s.registration === 'signed-out' || s.registration === 'failed' || s.registration === 'signing-out';
    const registered = s.registration === 'registered';
    call.disabled = !registered || s.call !== 'idle';
    hangup.disabled = s.call === 'idle' || s.call === 'ending';
    hold.disabled = s.call !== 'active';
    resume.disabled = s.call !== 'held';
    for (const key of keys) key.disabled = s.call !== 'active' && s.call !== 'held';
    dtmfReceive.value = s.dtmfReceive;
    dtmfReceived.textContent = s.receivedDigits ? [...s.receivedDigits].join(' ') : '—';
    dtmfReceived.dataset.digits = s.receivedDigits;
    appendLog(phone.events);
  });

  return {
    showSignIn(options) {
      server.value = options.server;
      user.value = options.user;
      password.value = options.password ?? '';
    },
  };
}
