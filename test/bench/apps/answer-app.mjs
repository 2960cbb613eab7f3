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

const srf = startApp('answer-app', () => ({ ...counters }));

srf.invite((req, res) => {
  counters.invites++;
  srf
    .createUAS(req, res, { localSdp: LOCAL_SDP })
    .then((dialog) => {
      counters.answered++;
      counters.active++;
      dialog.on('destroy', () => {
        counters.active--;
        counters.ended++;
      });
    })
    .catch(() => {
      counters.errors++;
    });
});
