import { describe, expect, it } from 'vitest';
import { createRateLimit, type RateLimitVerdict, rateLimitHeaders } from '../src/http/rate-limit.js';

// The in-memory limiter counts in rate-limiter-flexible's MemoryStorage directly (no promise per
// request); these pin its behaviour to the fixed-window rules the HTTP tests see through 429s.
describe('in-memory rate limit', () => {
  it('answers within the call, counts down per key, and refuses once over the limit', () => {
    const limit = createRateLimit({ name: 'unit', perMinute: 3 });
    const seen: RateLimitVerdict[] = [];
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 4; i++)
      limit.decide(
        'client-a',
        (v) => seen.push(v),
        (e) => {
          throw e;
        },
      );
    expect(seen).toHaveLength(4); // every verdict arrived before decide() returned
    expect(seen.map((v) => [v.allowed, v.remaining])).toEqual([
      [true, '2'],
      [true, '1'],
      [true, '0'],
      [false, '0'],
    ]);
    for (const v of seen) {
      expect(v.limit).toBe('3');
      expect(Number(v.reset)).toBeGreaterThanOrEqual(before + 59);
      expect(Number(v.reset)).toBeLessThanOrEqual(before + 61);
    }
    expect(seen[0]!.retryAfter).toBeUndefined();
    expect(Number(seen[3]!.retryAfter)).toBeGreaterThan(0);
    expect(Number(seen[3]!.retryAfter)).toBeLessThanOrEqual(60);
    expect(rateLimitHeaders(seen[3]!)).toEqual({
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': seen[3]!.reset,
      'retry-after': seen[3]!.retryAfter,
    });
  });

  it('keeps separate budgets per key and per limiter', async () => {
    const a = createRateLimit({ name: 'one', perMinute: 1 });
    const b = createRateLimit({ name: 'two', perMinute: 1 });
    expect((await a.consume('k')).allowed).toBe(true);
    expect((await a.consume('k')).allowed).toBe(false);
    expect((await a.consume('other')).allowed).toBe(true);
    expect((await b.consume('k')).allowed).toBe(true);
    expect(Object.keys(rateLimitHeaders(await b.consume('other')))).toEqual([
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ]);
  });
});
