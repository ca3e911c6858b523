/**
 * Reconnect delays: exponential backoff with full jitter. The n-th retry
 * (from 0) waits uniformly between 0 and min(maxDelayMs, minDelayMs · 2ⁿ), so
 * 20,000 clients dropped at once come back spread over the window instead of
 * as one wave (AWS's "Exponential Backoff And Jitter"; centrifuge-js uses the
 * same 0.5–20 s defaults).
 */
import type { BackoffOptions } from './types.js';

export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 20_000;

export class Backoff {
  private attempt = 0;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.minDelayMs = Math.max(1, options.minDelayMs ?? DEFAULT_MIN_DELAY_MS);
    this.maxDelayMs = Math.max(this.minDelayMs, options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
  }

  /** The cap of the next delay (before jitter). */
  cap(): number {
    return Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(this.attempt, 30));
  }

  /** The next delay, and one more failed attempt counted. */
  next(): number {
    const delay = Math.floor(this.random() * this.cap());
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * A server's retry hint in a close reason: `…; retryMs=5000` means "come back
 * some time within the next 5 s" (the relay spreads a restart's reconnects).
 * Bounded so a hostile reason cannot park the client for days.
 */
export function retryHintMs(reason: string): number | null {
  const match = /(?:^|[;\s])retryMs=(\d{1,7})(?:$|[;\s])/.exec(reason);
  if (!match) return null;
  return Math.min(Number(match[1]), 120_000);
}
