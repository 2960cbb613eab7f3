/**
 * Choosing the response a forking proxy sends upstream once every branch has failed
 * (RFC 3261 §16.7 step 6).
 */

export interface ResponseCandidate {
  status: number;
  /** Generated here (Timer B/C expiry -> 408, transport error -> 503), not received. */
  synthetic: boolean;
  /** Arrival order, earlier first. */
  seq: number;
}

/**
 * "If no final response has been received, 408". With responses stored in the response
 * context, §16.7 step 6 says:
 *  - "The proxy MUST choose the 6xx response if any of the final responses were 6xx";
 *  - otherwise "SHOULD choose from the lowest response class stored in the response context";
 *  - within the 4xx class give preference to "responses that provide information affecting
 *    resubmission of this request, such as 401, 407, 415, 420, and 484";
 *  - a 503 is only worth forwarding when nothing else in its class is available (it says the
 *    proxy itself cannot serve requests).
 * Within a class we prefer responses that really came from the network over ones we generated
 * ourselves, then the earliest.
 */
const RESUBMISSION_HINTS = [401, 407, 415, 420, 484];

export function chooseBest<T extends ResponseCandidate>(candidates: readonly T[]): T | undefined {
  if (candidates.length === 0) return undefined;
  const ordered = [...candidates].sort((a, b) => a.seq - b.seq);
  const global = ordered.find((c) => c.status >= 600);
  if (global) return global;
  const classOf = (s: number) => Math.floor(s / 100);
  const lowest = Math.min(...ordered.map((c) => classOf(c.status)));
  const inClass = ordered.filter((c) => classOf(c.status) === lowest);
  if (lowest === 4) {
    for (const code of RESUBMISSION_HINTS) {
      const hint = inClass.find((c) => c.status === code);
      if (hint) return hint;
    }
  }
  const real = inClass.filter((c) => !c.synthetic);
  const pool = real.length ? real : inClass;
  return pool.find((c) => c.status !== 503) ?? pool[0];
}

/**
 * §16.7 step 6: "If the only response that was received is a 503, the proxy SHOULD generate a
 * 500 response and forward that upstream" - a 503 from a downstream element must not read as
 * "this proxy is unavailable" to the client.
 */
export function upstreamStatusFor(status: number): number {
  return status === 503 ? 500 : status;
}
