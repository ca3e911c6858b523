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

  /**
   * The next delay when the server asked for a pause of at least `floorMs`:
   * the floor plus full jitter over max(cap, floor), so a fleet told "later"
   * at once does not come back at once either (2–4 s, then 2–6 s, … for 2 s).
   */
  nextAtLeast(floorMs: number): number {
    const delay = floorMs + Math.floor(this.random() * Math.max(this.cap(), floorMs));
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** A uniformly random delay in 0…maxMs (spreads work many clients start at the same moment). */
export function jitterMs(maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * maxMs);
}

/** Longest wait a server may ask for (Retry-After, retryAfterMs, a close reason's retryMs). */
export const MAX_RETRY_HINT_MS = 60_000;

/**
 * A server's retry hint made safe to wait on: whole ms within 0…60 s, or
 * undefined when it is not a finite number. (A negative, a NaN or a delay of
 * 2³¹ ms or more would otherwise fire at once, or park the client for days.)
 */
export function clampRetryHint(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Math.min(MAX_RETRY_HINT_MS, Math.max(0, Math.ceil(value)));
}

/** An HTTP `Retry-After` header (delay-seconds or an HTTP date) in ms, clamped like any hint. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d{1,12}$/.test(text)) return clampRetryHint(Number(text) * 1000);
  // An HTTP date ("Tue, 01 Dec 2026 10:00:05 GMT"); Date.parse alone would take "1.5" for a date.
  const at = /^[A-Za-z]{3}, /.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(at) ? undefined : clampRetryHint(at - now);
}

/**
 * A server's retry hint in a close reason: `…; retryMs=5000` means "come back
 * some time within the next 5 s" (the relay spreads a restart's reconnects).
 * Bounded like every hint, so a hostile reason cannot park the client.
 */
export function retryHintMs(reason: string): number | null {
  const match = /(?:^|[;\s])retryMs=(\d{1,7})(?:$|[;\s])/.exec(reason);
  if (!match) return null;
  return Math.min(Number(match[1]), MAX_RETRY_HINT_MS);
}
