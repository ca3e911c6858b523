// Covers TokenBucket with an injected clock: initial burst, refill rate, and the cap at burst.
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../socket-relay/token-bucket.js';
import { UserBudgets } from '../../socket-relay/user-budgets.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}
const takeAll = (bucket: TokenBucket, max = 10_000) => {
  let n = 0;
  while (n < max && bucket.take()) n++;
  return n;
};

describe('TokenBucket', () => {
  it('allows exactly `burst` takes at once, then refuses', () => {
    const c = clock();
    const bucket = new TokenBucket(10, 5, c.now);
    expect([1, 2, 3, 4, 5].map(() => bucket.take())).toEqual([true, true, true, true, true]);
    expect(bucket.take()).toBe(false);
    expect(bucket.take()).toBe(false);
  });

  it('refills at `rate` tokens per second', () => {
    const c = clock();
    const bucket = new TokenBucket(10, 5, c.now);
    takeAll(bucket);
    c.advance(99); // 0.99 tokens: not yet one
    expect(bucket.take()).toBe(false);
    c.advance(1); // now 1.0 token in total
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    c.advance(300); // 3 tokens
    expect(takeAll(bucket)).toBe(3);
  });

  it('accumulates fractional refills across takes', () => {
    const c = clock();
    const bucket = new TokenBucket(4, 4, c.now); // one token per 250 ms
    takeAll(bucket);
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      c.advance(100); // 0.4 token each step
      results.push(bucket.take());
    }
    // 0.4, 0.8, 1.2 → take (0.2 left), 0.6, 1.0 → take: refusals must not lose the fraction accrued.
    expect(results).toEqual([false, false, true, false, true]);
    expect(bucket.take()).toBe(false);
  });

  it('never holds more than `burst` tokens after a long idle period', () => {
    const c = clock();
    const bucket = new TokenBucket(100, 3, c.now);
    takeAll(bucket);
    c.advance(60 * 60 * 1000);
    expect(takeAll(bucket)).toBe(3);
  });

  it('sustains `rate` takes per second over time', () => {
    const c = clock();
    const bucket = new TokenBucket(20, 20, c.now);
    takeAll(bucket);
    let granted = 0;
    for (let ms = 0; ms < 5000; ms += 10) {
      c.advance(10);
      if (bucket.take()) granted++;
      if (bucket.take()) granted++; // try twice as fast as allowed
    }
    expect(granted).toBeGreaterThanOrEqual(99);
    expect(granted).toBeLessThanOrEqual(100);
  });
});

describe('UserBudgets', () => {
  const limits = { maxConnections: 2, signalRate: 1, subscribeRate: 10, subscribeBurst: 20 };

  it('caps connections per user and frees a slot on release', () => {
    const budgets = new UserBudgets(limits);
    expect(budgets.acquire('a')).not.toBeNull();
    expect(budgets.acquire('a')).not.toBeNull();
    expect(budgets.acquire('a')).toBeNull();
    expect(budgets.acquire('b')).not.toBeNull();
    budgets.release('a');
    expect(budgets.acquire('a')).not.toBeNull();
  });

  it('keeps a spent budget across a full disconnect until it could have refilled', () => {
    let clock = 1_000_000;
    const budgets = new UserBudgets(limits, () => clock);
    const first = budgets.acquire('a')!;
    while (first.signals.take()); // spent
    budgets.release('a');
    budgets.sweep();
    // Reconnecting at once gets the same, spent budget back.
    expect(budgets.acquire('a')).toBe(first);
    budgets.release('a');
    clock += 3_500; // subscribe burst 20 at 10/s refills in 2 s; kept 1 s longer
    budgets.sweep();
    expect(budgets.size).toBe(0);
    expect(budgets.acquire('a')).not.toBe(first);
  });
});
