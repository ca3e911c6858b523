/**
 * `RateLimiter` on Redis: one Lua script per decision, so concurrent function
 * containers cannot both spend the last token. The bucket is GCRA (one key per
 * user holding the "theoretical arrival time" of the next send, in ms), which
 * needs a single key (safe in cluster mode) and expires on its own once the
 * bucket is full again.
 *
 * The same script runs through ioredis (ElastiCache, the local stack) or
 * Upstash's REST API, behind the one-method `ScriptRunner`.
 */
import type { FailFastGate } from '../../broker/fail-fast.js';
import type { RateDecision, RateLimiter, SendRateLimit } from '../domain/send-rate-limit.js';

/** Runs a Lua script with keys and arguments; what ioredis and @upstash/redis both offer, in their own shapes. */
export interface ScriptRunner {
  evalScript(script: string, keys: string[], args: string[]): Promise<unknown>;
}

// KEYS[1]: bucket; ARGV: now (ms), interval (ms per token), burst.
// Returns {1, 0} when allowed, {0, retryAfterMs} when not.
export const GCRA_SCRIPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat - (burst - 1) * interval
if now < allow_at then
  return {0, math.ceil(allow_at - now)}
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.ceil(next_tat - now))
return {1, 0}
`;

export class RateLimiterError extends Error {
  override readonly name = 'RateLimiterError';
  readonly code = 'rate_limiter_failed';
  constructor(key: string, cause: unknown) {
    super(`Rate limiter script failed for ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly runner: ScriptRunner,
    /** Injected for tests; Lambda clocks are NTP-synchronized. @default Date.now */
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string, limit: SendRateLimit): Promise<RateDecision> {
    const interval = 1000 / limit.ratePerSecond;
    let reply: unknown;
    try {
      reply = await this.runner.evalScript(GCRA_SCRIPT, [key], [String(this.now()), String(interval), String(Math.max(1, Math.floor(limit.burst)))]);
    } catch (err) {
      throw new RateLimiterError(key, err);
    }
    if (!Array.isArray(reply) || reply.length !== 2) throw new RateLimiterError(key, new Error(`unexpected reply ${JSON.stringify(reply)}`));
    const [allowed, retryAfterMs] = reply.map(Number) as [number, number];
    return { allowed: allowed === 1, retryAfterMs: allowed === 1 ? 0 : retryAfterMs };
  }
}

/** ioredis `Redis` or `Cluster`: EVAL with the key count first. */
export const ioredisRunner = (client: { eval(script: string, numkeys: number, ...keysAndArgs: string[]): Promise<unknown> }): ScriptRunner => ({
  evalScript: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
});

/** `runner` behind a fail-fast gate (broker/fail-fast.ts): refused at once while its connection is down. */
export const gatedRunner = (runner: ScriptRunner, gate: FailFastGate): ScriptRunner => ({
  evalScript: (script, keys, args) => gate.run(() => runner.evalScript(script, keys, args)),
});

/** `@upstash/redis` `Redis`: `eval(script, keys, args)` over REST. */
export const upstashRunner = (client: { eval(script: string, keys: string[], args: string[]): Promise<unknown> }): ScriptRunner => ({
  evalScript: (script, keys, args) => client.eval(script, keys, args),
});
