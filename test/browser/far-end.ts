/**
 * A plain RTCPeerConnection in its own tab that plays the far end of a call (what rtpengine and a
 * desk phone will be in the media tests): it makes or answers SDP offers that the test's SIP app
 * carries to and from the softphone, and sends Chromium's fake microphone. Also the two-PC
 * loopback check that proves fake audio flows where the browser runs.
 */
import type { Page } from 'playwright-core';

interface FarEndWindow {
  farEnd: {
    offer(): Promise<string>;
    answer(offer: string): Promise<string>;
    accept(answer: string): Promise<void>;
    inbound(): Promise<{ packetsReceived: number; connectionState: string }>;
    close(): void;
  };
}

/** Runs in the page: installs window.farEnd. */
async function install(): Promise<void> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  let pc: RTCPeerConnection | undefined;
  const fresh = (): RTCPeerConnection => {
    pc?.close();
    pc = new RTCPeerConnection({ iceServers: [] });
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    return pc;
  };
  const gathered = (conn: RTCPeerConnection): Promise<void> =>
    new Promise((resolve) => {
      if (conn.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, 3000);
      conn.addEventListener('icegatheringstatechange', () => {
        if (conn.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  const local = async (conn: RTCPeerConnection, description: RTCSessionDescriptionInit): Promise<string> => {
    await conn.setLocalDescription(description);
    await gathered(conn);
    return conn.localDescription!.sdp;
  };
  (window as unknown as FarEndWindow).farEnd = {
    async offer() {
      const conn = fresh();
      return local(conn, await conn.createOffer());
    },
    /** Answers an initial offer (new connection) or a re-offer (same connection) */
    async answer(offer) {
      const conn = pc && pc.signalingState === 'stable' && pc.remoteDescription ? pc : fresh();
      await conn.setRemoteDescription({ type: 'offer', sdp: offer });
      return local(conn, await conn.createAnswer());
    },
    async accept(answer) {
      await pc!.setRemoteDescription({ type: 'answer', sdp: answer });
    },
    async inbound() {
      let packetsReceived = 0;
      (await pc!.getStats()).forEach((s: { type: string; kind?: string; packetsReceived?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') packetsReceived = s.packetsReceived ?? 0;
      });
      return { packetsReceived, connectionState: pc!.connectionState };
    },
    close() {
      pc?.close();
      pc = undefined;
    },
  };
}

export class FarEnd {
  private constructor(readonly page: Page) {}

  /** Installs the far end in `page` (which must be a secure-context page, e.g. the softphone's URL). */
  static async open(page: Page): Promise<FarEnd> {
    await page.evaluate(install);
    return new FarEnd(page);
  }

  offer(): Promise<string> {
    return this.page.evaluate(() => (window as unknown as FarEndWindow).farEnd.offer());
  }

  answer(offer: string): Promise<string> {
    return this.page.evaluate((sdp) => (window as unknown as FarEndWindow).farEnd.answer(sdp), offer);
  }

  accept(answer: string): Promise<void> {
    return this.page.evaluate((sdp) => (window as unknown as FarEndWindow).farEnd.accept(sdp), answer);
  }

  inbound(): Promise<{ packetsReceived: number; connectionState: string }> {
    return this.page.evaluate(() => (window as unknown as FarEndWindow).farEnd.inbound());
  }

  close(): Promise<void> {
    return this.page.evaluate(() => (window as unknown as FarEndWindow).farEnd.close());
  }
}

export interface LoopbackResult {
  connectionState: string;
  packetsReceived: number;
  candidates: string[];
  selectedPair?: string;
  track: string;
}

/**
 * Runs in the page: two RTCPeerConnections, the caller sending the fake microphone, connected
 * through each other's ICE candidates; reports the callee's inbound-rtp after ~1.5 s, every
 * gathered candidate ("address protocol type") and the selected pair.
 */
export async function pageLoopbackCall(): Promise<LoopbackResult> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const caller = new RTCPeerConnection({ iceServers: [] });
  const callee = new RTCPeerConnection({ iceServers: [] });
  const candidates: string[] = [];
  const trickle = (from: RTCPeerConnection, to: RTCPeerConnection): void => {
    from.addEventListener('icecandidate', (event) => {
      if (!event.candidate) return;
      candidates.push(`${event.candidate.address} ${event.candidate.protocol} ${event.candidate.type}`);
      void to.addIceCandidate(event.candidate);
    });
  };
  trickle(caller, callee);
  trickle(callee, caller);
  for (const track of stream.getTracks()) caller.addTrack(track, stream);
  await caller.setLocalDescription(await caller.createOffer());
  await callee.setRemoteDescription(caller.localDescription!);
  await callee.setLocalDescription(await callee.createAnswer());
  await caller.setRemoteDescription(callee.localDescription!);
  const deadline = Date.now() + 10_000;
  while (callee.connectionState !== 'connected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1500));
  let packetsReceived = 0;
  let selectedPair: string | undefined;
  const stats = new Map<string, Record<string, unknown>>();
  (await callee.getStats()).forEach((s: Record<string, unknown>) => stats.set(s.id as string, s));
  for (const s of stats.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') packetsReceived = s.packetsReceived as number;
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      const pair = stats.get(s.selectedCandidatePairId as string)!;
      const end = (id: unknown): string => {
        const c = stats.get(id as string)!;
        return `${String(c.address)}:${String(c.port)}`;
      };
      selectedPair = `${end(pair.localCandidateId)} -> ${end(pair.remoteCandidateId)}`;
    }
  }
  const result = { connectionState: callee.connectionState, packetsReceived, candidates, selectedPair, track: stream.getAudioTracks()[0]!.label };
  caller.close();
  callee.close();
  for (const track of stream.getTracks()) track.stop();
  return result;
}
