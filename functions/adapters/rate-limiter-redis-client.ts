/**
 * The ioredis connection the send rate limiter uses (ElastiCache, the local
 * stack). ioredis is loaded on first use, not at import (as in broker/redis.ts):
 * ioredis is CommonJS, so esbuild keeps a static import even when the Upstash
 * build never calls this.
 */
import type { Cluster, Redis } from 'ioredis';
import { ioredisGate, type FailFastGate } from '../../broker/fail-fast.js';
import { jitteredRetryStrategy } from '../../broker/redis-connection.js';

export interface RateLimiterRedisOptions {
  /** `redis://` or `rediss://` (TLS). */
  url: string;
  password?: string;
  /** Redis Cluster / ElastiCache cluster mode. */
  cluster: boolean;
  onError: (err: Error) => void;
}

/** Longest one limiter command may take (ms): as long as a send waits for the limiter (CheckSendRateOptions.timeoutMs). */
export const RATE_LIMITER_COMMAND_TIMEOUT_MS = 250;

/**
 * Fails fast (one retry, 1 s connect timeout, RATE_LIMITER_COMMAND_TIMEOUT_MS per
 * command): a limiter that waits on Redis would hold every send hostage to it.
 * Its `gate` refuses commands at once while the connection is known to be down
 * (broker/fail-fast.ts), so that a send then fails open without waiting at all,
 * and no stale decisions queue up for when Redis is back.
 */
export async function connectRateLimiterRedis(o: RateLimiterRedisOptions): Promise<{ client: Redis | Cluster; gate: FailFastGate }> {
  const { Cluster, Redis } = await import('ioredis');
  const options = {
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    commandTimeout: RATE_LIMITER_COMMAND_TIMEOUT_MS,
    retryStrategy: jitteredRetryStrategy(2000),
    ...(o.password && { password: o.password }),
  };
  const url = new URL(o.url);
  const client = o.cluster
    ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
        clusterRetryStrategy: jitteredRetryStrategy(2000),
        // ElastiCache TLS: keep the host names the certificates name.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: { ...options, ...(url.protocol === 'rediss:' && { tls: {} }) },
      })
    : new Redis(o.url, options);
  client.on('error', o.onError);
  return { client, gate: ioredisGate(client, 'The rate limiter\'s Redis connection') };
}
