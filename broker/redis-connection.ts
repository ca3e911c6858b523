/**
 * How to reach Redis, in one place: the brokers and the relay's presence store
 * connect from the same settings (URL, TLS, password, cluster), so a setting
 * fixed for one is fixed for all. ioredis is loaded on first use, not at
 * import: a function bundle built for Upstash then drops it entirely.
 */
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';

export interface RedisConnection {
  /** `redis://` or `rediss://` (TLS) URL; in cluster mode, of any seed node or the configuration endpoint. */
  url: string;
  /** Overrides any password in the URL (e.g. an ElastiCache AUTH token). */
  password?: string;
  /** Redis Cluster (ElastiCache cluster mode). @default false */
  cluster?: boolean;
}

/** Reconnect quickly at first, then at most every 2 s. */
export const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** attempt, 2000);

/**
 * As `retryStrategy` up to `maxMs`, each delay cut by up to a quarter at random:
 * for clients of many processes (function containers) that lost the same Redis,
 * so that they do not all reconnect in step when it is back.
 */
export const jitteredRetryStrategy =
  (maxMs: number) =>
  (attempt: number): number =>
    Math.round(Math.min(50 * 2 ** attempt, maxMs) * (1 - Math.random() / 4));

export const loadIoredis = () => import('ioredis');

/** Seed node and options of a cluster client for `connection`; `redisOptions` apply to every node. */
export function clusterSettings(connection: RedisConnection, redisOptions: RedisOptions = {}): { seed: { host: string; port: number }; options: ClusterOptions } {
  const url = new URL(connection.url);
  const tls = url.protocol === 'rediss:';
  return {
    seed: { host: url.hostname, port: Number(url.port || 6379) },
    options: {
      clusterRetryStrategy: retryStrategy,
      // ElastiCache with TLS: keep node hostnames (don't resolve them to IPs) so certificates verify.
      ...(tls && { dnsLookup: (address: string, cb: (err: null, address: string) => void) => cb(null, address) }),
      redisOptions: {
        username: decodeURIComponent(url.username) || undefined,
        password: connection.password ?? (decodeURIComponent(url.password) || undefined),
        ...(tls && { tls: {} }),
        ...redisOptions,
      },
    },
  };
}

/** Options of a standalone client for `connection` (ioredis reads TLS and credentials from the URL). */
export function standaloneOptions(connection: RedisConnection, redisOptions: RedisOptions = {}): RedisOptions {
  return { retryStrategy, ...(connection.password && { password: connection.password }), ...redisOptions };
}

/** A plain command connection (not pub/sub) from `connection`: what presence keeps its sets with. */
export async function connectCommandClient(connection: RedisConnection, redisOptions: RedisOptions = {}): Promise<Redis | Cluster> {
  const ioredis = await loadIoredis();
  if (!connection.cluster) return new ioredis.Redis(connection.url, standaloneOptions(connection, redisOptions));
  const { seed, options } = clusterSettings(connection, redisOptions);
  return new ioredis.Cluster([seed], options);
}
