/**
 * The o= line of the SDP the gateway sends to one party (RFC 4566 §5.2, RFC 3264 §8). A party
 * must see one session id for the whole dialog, and a version that changes exactly when the
 * session description does. rtpengine 10.5's `replace origin` rewrites only the address: the id
 * and version of whoever is on the other side pass through, and after a transfer (another party
 * on the other side) they would jump to the newcomer's. So each party gets its own origin here.
 */
import { randomInt } from 'node:crypto';

const ORIGIN = /^o=(\S+) (\S+) (\S+) (.+)$/m;

export class SdpOrigin {
  private readonly sessionId = String(randomInt(1_000_000, 2_147_483_647));
  private version = randomInt(1, 1_000_000);
  private lastBody: string | undefined;

  /** `sdp` with this party's session id and version (incremented when anything but o= changed). */
  apply(sdp: string): string {
    const match = ORIGIN.exec(sdp);
    if (!match) return sdp;
    const body = sdp.replace(ORIGIN, '');
    if (this.lastBody !== undefined && body !== this.lastBody) this.version += 1;
    this.lastBody = body;
    return sdp.replace(ORIGIN, `o=${match[1]} ${this.sessionId} ${this.version} ${match[4]}`);
  }
}
