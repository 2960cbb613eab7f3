// Bench app: answers every INVITE with a static SDP; the UAC (SIPp) hangs up with BYE.
import { startApp } from './app-common.mjs';

const LOCAL_SDP = [
  'v=0',
  'o=bench 1 1 IN IP4 127.0.0.1',
  's=bench',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  '',
].join('\r\n');

const counters = { invites: 0, answered: 0, errors: 0, active: 0, ended: 0 };
const activeSince = new Map(); // Call-ID -> answered at (ms), for spotting dialogs that never end

/** Up to 5 Call-IDs of dialogs older than 5 s (a BYE that never reached the dialog). */
function stale() {
  const out = [];
  const cutoff = Date.now() - 5000;
  for (const [callId, at] of activeSince) {
    if (at > cutoff || out.length >= 5) break;
    out.push(callId);
  }
  return out;
}

const srf = startApp('answer-app', () => ({ ...counters, stale: stale() }));

// The callback form of createUAS, not the promise: srf adds the dialog and calls back in the
// same tick, so the 'destroy' listener is in place before a BYE that arrived in the same read
// from the engine is dispatched. With `.then()` the listener is attached a microtask later and
// such a BYE (hold time 0, high rates) tears the dialog down unseen.
srf.invite((req, res) => {
  counters.invites++;
  srf.createUAS(req, res, { localSdp: LOCAL_SDP }, (err, dialog) => {
    if (err) {
      counters.errors++;
      return;
    }
    counters.answered++;
    counters.active++;
    const callId = req.get('Call-ID');
    activeSince.set(callId, Date.now());
    dialog.on('destroy', () => {
      counters.active--;
      counters.ended++;
      activeSince.delete(callId);
    });
  });
});
