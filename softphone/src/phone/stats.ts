/** Extracts the numbers the tests and the page show from an RTCStatsReport. */
import type { CallStats } from './types';

type Stat = Record<string, unknown> & { type: string; id: string };

function describeCandidate(candidate: Stat | undefined): string | undefined {
  if (!candidate) return undefined;
  const address = candidate.address ?? candidate.ip;
  return `${String(address)}:${String(candidate.port)}/${String(candidate.protocol)} typ ${String(candidate.candidateType)}`;
}

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** Audio numbers from a getStats() report (accepts any Map-like of stats objects, for unit tests). */
export function summariseStats(
  report: { forEach(callback: (value: Stat) => void): void },
  states: { connectionState: RTCPeerConnectionState; iceConnectionState: RTCIceConnectionState },
): CallStats {
  const byId = new Map<string, Stat>();
  report.forEach((stat) => byId.set(stat.id, stat));
  const all = [...byId.values()];
  const inbound = all.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
  const outbound = all.find((s) => s.type === 'outbound-rtp' && s.kind === 'audio');
  const transport = all.find((s) => s.type === 'transport');
  const pairId = transport?.selectedCandidatePairId as string | undefined;
  const pair = (pairId ? byId.get(pairId) : undefined) ?? all.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
  const codec = inbound?.codecId ? byId.get(inbound.codecId as string) : undefined;
  return {
    connectionState: states.connectionState,
    iceConnectionState: states.iceConnectionState,
    packetsReceived: num(inbound?.packetsReceived) ?? 0,
    packetsLost: num(inbound?.packetsLost) ?? 0,
    audioLevel: num(inbound?.audioLevel),
    totalAudioEnergy: num(inbound?.totalAudioEnergy),
    jitter: num(inbound?.jitter),
    packetsSent: num(outbound?.packetsSent) ?? 0,
    codec: typeof codec?.mimeType === 'string' ? codec.mimeType : undefined,
    localCandidate: describeCandidate(pair ? byId.get(pair.localCandidateId as string) : undefined),
    remoteCandidate: describeCandidate(pair ? byId.get(pair.remoteCandidateId as string) : undefined),
  };
}
