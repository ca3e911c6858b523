/**
 * The send route's per-user rate limit, wired from the environment once per
 * container, and its HTTP answer: 429 `rate_limited` with `Retry-After`.
 *
 * The limiter talks to the same Redis the container publishes to (its own
 * connection): ioredis for `REDIS_URL` (ElastiCache, the local stack), REST
 * for `UPSTASH_SECRET_ARN`. The limit is on when `SEND_RATE_PER_SECOND` is set
 * (the CDK app sets it, with `SEND_RATE_BURST`); the local stack leaves it off
 * unless you set it, so benchmarks and tests are not throttled. Without Redis
 * (the in-process broker) sends are never limited. The build-time `TOWNSQUARE_PUBLISHER` define
 * drops the unused client, as in publisher.ts.
 */
import { envFlag } from './env.js';
import { Redis as UpstashRedis } from '@upstash/redis';
import { ErrorCode } from '../../protocol/index.js';
import { gatedRunner, ioredisRunner, RedisRateLimiter, upstashRunner } from '../adapters/redis-rate-limiter.js';
import { connectRateLimiterRedis, RATE_LIMITER_COMMAND_TIMEOUT_MS } from '../adapters/rate-limiter-redis-client.js';
import { readSecret } from '../adapters/secrets.js';
import { checkSendRate, sendRateLimitFromEnv, type RateLimiter } from '../domain/send-rate-limit.js';
import { json, type HttpResult } from './http.js';
import { logger } from './logger.js';

let limiter: Promise<RateLimiter | undefined> | undefined;

async function createLimiter(env: NodeJS.ProcessEnv): Promise<RateLimiter | undefined> {
  // process.env.TOWNSQUARE_PUBLISHER is written out each time: esbuild replaces it with a
  // constant and drops the dead branch (and its client) only in this form.
  if (process.env.TOWNSQUARE_PUBLISHER === 'upstash' || (!process.env.TOWNSQUARE_PUBLISHER && env.UPSTASH_SECRET_ARN)) {
    if (!env.UPSTASH_SECRET_ARN) return undefined;
    const { restUrl, restToken } = JSON.parse(await readSecret(env.UPSTASH_SECRET_ARN)) as { restUrl: string; restToken: string };
    const client = new UpstashRedis({
      url: restUrl,
      token: restToken,
      enableTelemetry: false,
      retry: { retries: 1, backoff: () => 50 },
      // No request outlives the wait for its answer (a fresh signal per request).
      signal: () => AbortSignal.timeout(RATE_LIMITER_COMMAND_TIMEOUT_MS),
    });
    return new RedisRateLimiter(upstashRunner(client));
  }
  if (process.env.TOWNSQUARE_PUBLISHER === 'redis' || (!process.env.TOWNSQUARE_PUBLISHER && env.REDIS_URL)) {
    if (!env.REDIS_URL) return undefined;
    const password = env.REDIS_AUTH_SECRET_ARN ? await readSecret(env.REDIS_AUTH_SECRET_ARN) : undefined;
    const { client, gate } = await connectRateLimiterRedis({
      url: env.REDIS_URL,
      ...(password && { password }),
      cluster: envFlag(env, 'REDIS_CLUSTER'),
      onError: (err) => logger.warn('rate limiter redis error', { error: err.message }),
    });
    return new RedisRateLimiter(gatedRunner(ioredisRunner(client), gate));
  }
  return undefined;
}

/**
 * Undefined when the caller may send now; otherwise the 429 to return.
 * Never throws: a limiter failure lets the send through (fail-open, see
 * functions/domain/send-rate-limit.ts) and is logged.
 */
export async function enforceSendRate(userId: string, env: NodeJS.ProcessEnv = process.env): Promise<HttpResult | undefined> {
  if (!env.SEND_RATE_PER_SECOND) return undefined;
  let current: RateLimiter | undefined;
  try {
    limiter ??= createLimiter(env);
    current = await limiter;
  } catch (err) {
    limiter = undefined; // retried by the next request
    logger.warn('send rate limiter unavailable; allowing the send', { error: err as Error });
    return undefined;
  }
  const decision = await checkSendRate(current, userId, {
    limit: sendRateLimitFromEnv(env),
    onError: (err) => logger.warn('send rate limiter failed; allowing the send', { error: err as Error }),
  });
  return decision.allowed ? undefined : rateLimitedResponse(decision.retryAfterMs);
}

/** 429 with the documented error body and `Retry-After` in whole seconds (at least 1). */
export function rateLimitedResponse(retryAfterMs: number): HttpResult {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const response = json(429, {
    error: { code: ErrorCode.RateLimited, message: `Too many messages; retry after ${seconds} s` },
  });
  return { ...response, headers: { ...response.headers, 'retry-after': String(seconds) } };
}
