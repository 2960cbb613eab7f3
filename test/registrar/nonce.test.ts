/**
 * NonceManager properties the wire tests cannot reach quickly: tampering, clock, and the
 * memory cap (an evicted nonce must never become replayable again).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NonceManager } from '../../gateway/src/app/policy/nonce';
import { parseCredentials, AuthSyntaxError } from '../../gateway/src/app/policy/digest-syntax';

let now = 1_700_000_000_000;
const managers: NonceManager[] = [];
function manager(maxTracked?: number): NonceManager {
  const m = new NonceManager({ realm: 'r', ttlSeconds: 10, maxTracked, now: () => now });
  managers.push(m);
  return m;
}
afterEach(() => managers.splice(0).forEach((m) => m.close()));

describe('NonceManager', () => {
  it('accepts its own nonces, refuses altered or foreign ones, expires them after the TTL', () => {
    const m = manager();
    const n = m.issue();
    expect(m.check(n)).toBe('valid');
    const flipped = n.slice(0, 5) + (n[5] === 'A' ? 'B' : 'A') + n.slice(6);
    expect(m.check(flipped)).toBe('invalid');
    expect(manager().check(n)).toBe('invalid'); // another process / key
    now += 10_001;
    expect(m.check(n)).toBe('expired');
  });

  it('each (nonce, nc) once, nc strictly increasing', () => {
    const m = manager();
    const n = m.issue();
    expect(m.acceptNonceCount(n, 1)).toBe(true);
    expect(m.acceptNonceCount(n, 1)).toBe(false);
    expect(m.acceptNonceCount(n, 3)).toBe(true);
    expect(m.acceptNonceCount(n, 2)).toBe(false);
  });

  it('when full, evicts the oldest and refuses every nonce issued up to it from then on', () => {
    const m = manager(2);
    const a = m.issue();
    now += 1;
    const b = m.issue();
    now += 1;
    const c = m.issue();
    expect(m.acceptNonceCount(a, 1)).toBe(true);
    expect(m.acceptNonceCount(b, 1)).toBe(true);
    expect(m.acceptNonceCount(c, 1)).toBe(true); // evicts a
    expect(m.trackedCount).toBe(2);
    expect(m.check(a)).toBe('expired');
    expect(m.acceptNonceCount(a, 1)).toBe(false); // no replay through eviction
    expect(m.check(b)).toBe('valid');
  });
});

describe('parseCredentials', () => {
  it('splits comma-joined credentials (srf joins repeated header lines)', () => {
    const creds = parseCredentials('Digest username="a", realm="x, y", nonce=n1, Digest username="b",realm="z"');
    expect(creds.map((c) => [c.params.get('username'), c.params.get('realm')])).toEqual([['a', 'x, y'], ['b', 'z']]);
  });

  it('unescapes quoted-pairs and rejects duplicates and junk', () => {
    expect(parseCredentials('Digest username="a\\"b"')[0].params.get('username')).toBe('a"b');
    for (const bad of ['Digest a=1, a=2', 'Digest', 'Digest a', '"x"', 'Digest a="open']) {
      expect(() => parseCredentials(bad), bad).toThrow(AuthSyntaxError);
    }
  });
});
