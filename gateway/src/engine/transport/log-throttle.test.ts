import { describe, it, expect } from 'vitest';
import { LogThrottle } from './log-throttle';

describe('LogThrottle', () => {
  it('lets one line per interval through and counts the suppressed ones', () => {
    const t = new LogThrottle(1000);
    expect(t.admit('a', 0)).toBe(0);
    expect(t.admit('a', 10)).toBeUndefined();
    expect(t.admit('a', 20)).toBeUndefined();
    expect(t.admit('b', 30)).toBe(0);
    expect(t.admit('a', 1000)).toBe(2);
    expect(t.admit('a', 1500)).toBeUndefined();
  });
});
