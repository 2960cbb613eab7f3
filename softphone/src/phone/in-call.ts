/**
 * What the phone does inside an established call, on the sip.js Session: hold and resume
 * (re-INVITE), DTMF (SIP INFO or RFC 4733), getStats, and the remote audio. Failures are thrown
 * as Errors with a message fit for the page; the Phone records and shows them.
 */
import { Web, type Session } from 'sip.js';
import { DTMF_DURATION_MS, DTMF_GAP_MS, dtmfRelayBody } from './dtmf';
import { messageOf, reasonOf } from './sign-in';
import { summariseStats } from './stats';
import type { CallStats } from './types';

export function handlerOf(session: Session): Web.SessionDescriptionHandler | undefined {
  const handler = session.sessionDescriptionHandler;
  return handler instanceof Web.SessionDescriptionHandler ? handler : undefined;
}

/**
 * Hold: re-INVITE offering a=sendonly (sip.js's SessionDescriptionHandler `hold` option), local
 * sender and receiver tracks disabled. Resume: re-INVITE offering a=sendrecv, tracks enabled.
 * Resolves when the far end accepted.
 */
export async function reInviteHold(session: Session, hold: boolean): Promise<void> {
  const previous = session.sessionDescriptionHandlerOptionsReInvite as Web.SessionDescriptionHandlerOptions;
  session.sessionDescriptionHandlerOptionsReInvite = { ...previous, hold } as Web.SessionDescriptionHandlerOptions;
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
    throw error;
  }
  const handler = handlerOf(session);
  handler?.enableSenderTracks(!hold);
  handler?.enableReceiverTracks(!hold);
}

/** One digit as SIP INFO, application/dtmf-relay ("Signal=5\r\nDuration=160"). */
export function sendInfoDtmf(session: Session, tone: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    session
      .info({
        requestOptions: {
          body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: dtmfRelayBody(tone) },
        },
        requestDelegate: {
          onAccept: () => resolve(),
          onReject: (response) => reject(new Error(`DTMF INFO rejected: ${reasonOf(response).reason}`)),
        },
      })
      .catch((error: unknown) => reject(new Error(`DTMF INFO failed: ${messageOf(error)}`)));
  });
}

/** One digit as RFC 4733 telephone-events through the audio sender's RTCDTMFSender. */
export async function sendRfc4733Dtmf(session: Session, tone: string): Promise<void> {
  const sender = handlerOf(session)
    ?.peerConnection?.getSenders()
    .find((s) => s.track?.kind === 'audio' || s.dtmf);
  const dtmf = sender?.dtmf;
  if (!dtmf || !dtmf.canInsertDTMF) throw new Error('RFC 4733 DTMF is not available on this call (no telephone-event negotiated)');
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
}

/** getStats numbers of the session, or undefined before media setup. */
export async function sessionStats(session: Session): Promise<CallStats | undefined> {
  const pc = handlerOf(session)?.peerConnection;
  if (!pc) return undefined;
  const report = await pc.getStats();
  return summariseStats(report as unknown as Parameters<typeof summariseStats>[0], {
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
  });
}

/** Plays the session's remote audio in `audio`; `onBlocked` hears why autoplay was refused. */
export function playRemoteAudio(session: Session, audio: HTMLAudioElement | undefined, onBlocked: (message: string) => void): void {
  const handler = handlerOf(session);
  if (!audio || !handler) return;
  audio.srcObject = handler.remoteMediaStream;
  audio.play().catch((error: unknown) => onBlocked(messageOf(error)));
}
