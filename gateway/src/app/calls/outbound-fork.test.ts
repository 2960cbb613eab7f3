import { describe, expect, it } from 'vitest';
import { better } from './outbound-fork';

/** The status reported when every branch failed, whatever order the failures came in. */
function bestOf(statuses: number[]): number {
  return statuses.reduce((best, s) => (better(s, best) ? s : best));
}

describe('better (RFC 3261 §16.7 step 6, as the gateway applies it)', () => {
  it('prefers 486 to any other 4xx or 5xx, in either order', () => {
    expect(bestOf([486, 480])).toBe(486);
    expect(bestOf([480, 486])).toBe(486);
    expect(bestOf([503, 486, 404])).toBe(486);
  });

  it('prefers a 6xx to everything, then the lowest class, then the lowest code', () => {
    expect(bestOf([486, 603])).toBe(603);
    expect(bestOf([603, 486])).toBe(603);
    expect(bestOf([500, 404])).toBe(404);
    expect(bestOf([480, 404, 408])).toBe(404);
  });

  it('is a strict order: a status is not better than itself, and never both ways', () => {
    const statuses = [302, 404, 408, 480, 486, 487, 500, 503, 600, 603];
    for (const a of statuses) {
      expect(better(a, a)).toBe(false);
      for (const b of statuses) if (a !== b) expect(better(a, b)).not.toBe(better(b, a));
    }
  });
});
