/**
 * The ioredis connection the send rate limiter uses (ElastiCache, the local
 * stack). ioredis is loaded on first use, not at import (as in broker/redis.ts):
 * ioredis is CommonJS, so esbuild keeps a static import even when the Upstash
 * build never calls this.
 */
import type { Cluster, Redis } from 'ioredis';

export interface RateLimiterRedisOptions {
  /** `redis://` or `rediss://` (TLS). */
  url: string;
  password?: string;
  /** Redis Cluster / ElastiCache cluster mode. */
  cluster: boolean;
  onError: (err: Error) => void;
}

/** Fails fast (one retry, 1 s connect timeout): a limiter that waits on Redis would hold every send hostage to it. */
export async function connectRateLimiterRedis(o: RateLimiterRedisOptions): Promise<Redis | Cluster> {
  const { Cluster, Redis } = await import('ioredis');
  const options = { maxRetriesPerRequest: 1, connectTimeout: 1000, ...(o.password && { password: o.password }) };
  const url = new URL(o.url);
  const client = o.cluster
    ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
        // ElastiCache TLS: keep the host names the certificates name.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: { ...options, ...(url.protocol === 'rediss:' && { tls: {} }) },
      })
    : new Redis(o.url, options);
  client.on('error', o.onError);
  return client;
}
