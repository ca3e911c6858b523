/**
 * The per-user send rate limit. HTTP APIs have no per-user throttle (no usage
 * plans), so the send route asks a `RateLimiter` before doing any work, keyed
 * by the verified caller: a token bucket per user, shared by every function
 * container through Redis (functions/adapters/redis-rate-limiter.ts).
 *
 * Fail-open, on purpose: when the limiter cannot answer (Redis down or slow),
 * the send goes ahead and the failure is reported to `onError`. Sends are
 * persisted in DynamoDB first; a Redis outage already degrades live delivery,
 * and failing closed would turn it into an outage of the durable path too.
 * The API stage throttle and the relays' own limits still bound the damage.
 */

/** One decision: allowed, or refused until `retryAfterMs` from now. */
export interface RateDecision {
  allowed: boolean;
  /** 0 when allowed. */
  retryAfterMs: number;
}

/** Port: a token bucket per key (`rate` tokens a second, at most `burst` saved up). */
export interface RateLimiter {
  take(key: string, limit: SendRateLimit): Promise<RateDecision>;
}

export interface SendRateLimit {
  /** Sustained sends per second per user. */
  ratePerSecond: number;
  /** Sends a user may make at once after being quiet. */
  burst: number;
}

/** @default 5 sends a second, bursts of 20 (a fast typist manages about 1/s; pasting a few lines, a burst). */
export const DEFAULT_SEND_RATE_LIMIT: SendRateLimit = { ratePerSecond: 5, burst: 20 };

export interface CheckSendRateOptions {
  limit?: SendRateLimit;
  /** Longest wait for the limiter before failing open. @default 250 ms */
  timeoutMs?: number;
  /** Called when the limiter failed or timed out (the send was allowed). */
  onError?: (err: unknown) => void;
}

/** The limiter key for a user's sends. */
export const sendRateKey = (userId: string): string => `ratelimit:send:${userId}`;

/** Reads `SEND_RATE_PER_SECOND` / `SEND_RATE_BURST`; every problem reported at once. */
export function sendRateLimitFromEnv(env: NodeJS.ProcessEnv): SendRateLimit {
  const read = (name: string, def: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!(n > 0) || !Number.isFinite(n)) problems.push(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
    return n;
  };
  const problems: string[] = [];
  const limit = {
    ratePerSecond: read('SEND_RATE_PER_SECOND', DEFAULT_SEND_RATE_LIMIT.ratePerSecond),
    burst: read('SEND_RATE_BURST', DEFAULT_SEND_RATE_LIMIT.burst),
  };
  if (limit.burst < 1) problems.push('SEND_RATE_BURST must be at least 1');
  if (problems.length) throw new TypeError(`Invalid send rate limit: ${problems.join('; ')}`);
  return limit;
}

/**
 * Decides one send by `userId`. Resolves `{allowed: false, retryAfterMs}` when
 * the user is over the limit; never rejects (fail-open, see above).
 */
export async function checkSendRate(limiter: RateLimiter | undefined, userId: string, options: CheckSendRateOptions = {}): Promise<RateDecision> {
  if (!limiter) return { allowed: true, retryAfterMs: 0 };
  const limit = options.limit ?? DEFAULT_SEND_RATE_LIMIT;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate limiter gave no answer within ${options.timeoutMs ?? 250} ms`)), options.timeoutMs ?? 250);
  });
  const decision = limiter.take(sendRateKey(userId), limit);
  try {
    return await Promise.race([decision, timeout]);
  } catch (err) {
    decision.catch(() => {}); // a late rejection after the timeout is already reported
    options.onError?.(err);
    return { allowed: true, retryAfterMs: 0 };
  } finally {
    clearTimeout(timer);
  }
}
