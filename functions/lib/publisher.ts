/**
 * The publisher for this container, chosen from the environment:
 * - `UPSTASH_SECRET_ARN` (JSON `{restUrl, restToken}`) or `UPSTASH_REDIS_REST_URL` +
 *   `UPSTASH_REDIS_REST_TOKEN`: Upstash over REST;
 * - `REDIS_URL` (+ `REDIS_AUTH_SECRET_ARN`, `REDIS_CLUSTER=true` for sharded pub/sub);
 * - `TOWNSQUARE_BROKER=memory`: the local stack's in-process broker.
 *
 * The CDK build defines `process.env.TOWNSQUARE_PUBLISHER` (`redis` or
 * `upstash`) so esbuild drops the other client from the bundle; unset (local
 * stack, tests) the choice is made at run time.
 */
import { envFlag } from './env.js';
import { processMemoryBroker } from '../../broker/memory.js';
import { RedisBroker } from '../../broker/redis.js';
import { RedisClusterBroker } from '../../broker/redis-cluster.js';
import { jitteredRetryStrategy } from '../../broker/redis-connection.js';
import type { Publisher } from '../../broker/types.js';
import { LoggedPublisher } from '../adapters/logged-publisher.js';
import { readSecret } from '../adapters/secrets.js';
import { UpstashPublisher } from '../adapters/upstash-publisher.js';
import { logger } from './logger.js';

let publisher: Publisher | undefined;
let rawPublisher: Publisher | undefined;
let driverInUse: Promise<Publisher> | null = null;

/**
 * Redis timeouts for a function's publishing connection: far inside the
 * functions' 10 s timeout, so a Redis that does not answer costs a send about
 * a second, not the invocation. The channel log also stops waiting after its
 * own `publishTimeoutMs` and answers `published: false`.
 *
 * And only the first send that finds Redis gone pays that second: from then
 * on publishes are refused at once (`failFast`, broker/fail-fast.ts) until
 * the connection is ready again, so during an outage a send costs its
 * DynamoDB writes. ioredis reconnects in the background meanwhile, at most
 * every REDIS_RECONNECT_MAX_MS (with jitter, so that containers do not all
 * come back in step); an Upstash publisher probes as often.
 */
export const REDIS_CONNECT_TIMEOUT_MS = 1000;
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
export const REDIS_RECONNECT_MAX_MS = 1000;
const functionRetryStrategy = jitteredRetryStrategy(REDIS_RECONNECT_MAX_MS);
const functionRedisOptions = {
  connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  maxRetriesPerRequest: 1,
  retryStrategy: functionRetryStrategy,
};

/** The container's publisher; failures after a stored write are logged, never thrown. */
export function getPublisher(env: NodeJS.ProcessEnv = process.env): Publisher {
  return (publisher ??= new LoggedPublisher(getRawPublisher(env), logger));
}

/**
 * The same connection without the logging wrapper: a failed publish rejects.
 * For the channel log, which reports it (`published: false`) and logs it itself.
 */
export function getRawPublisher(env: NodeJS.ProcessEnv = process.env): Publisher {
  if (rawPublisher) return rawPublisher;
  let driver: Promise<Publisher> | null = null;
  const connect = () => {
    driver ??= createDriver(env).catch((err) => {
      driver = null; // retried by the next publish
      throw err;
    });
    driverInUse = driver;
    return driver;
  };
  return (rawPublisher = { publish: async (channel, payload) => (await connect()).publish(channel, payload) });
}

/**
 * Closes the container's Redis connection. Lambda never needs this; the local
 * stack calls it on shutdown so that stopping Redis is not logged as an outage.
 */
export async function closePublisher(): Promise<void> {
  const driver = await driverInUse?.catch(() => null);
  driverInUse = null;
  publisher = undefined;
  rawPublisher = undefined;
  if (driver && 'close' in driver && typeof driver.close === 'function') await (driver as { close(): Promise<void> }).close();
}

const upstashTimeouts = { timeoutMs: REDIS_COMMAND_TIMEOUT_MS, probeAfterMs: REDIS_RECONNECT_MAX_MS };

async function createDriver(env: NodeJS.ProcessEnv): Promise<Publisher> {
  if (
    process.env.TOWNSQUARE_PUBLISHER === 'upstash' ||
    (!process.env.TOWNSQUARE_PUBLISHER && (env.UPSTASH_SECRET_ARN || env.UPSTASH_REDIS_REST_URL))
  ) {
    if (env.UPSTASH_SECRET_ARN) {
      const { restUrl, restToken } = JSON.parse(await readSecret(env.UPSTASH_SECRET_ARN)) as { restUrl: string; restToken: string };
      return new UpstashPublisher({ url: restUrl, token: restToken, ...upstashTimeouts });
    }
    return new UpstashPublisher({ url: env.UPSTASH_REDIS_REST_URL ?? '', token: env.UPSTASH_REDIS_REST_TOKEN ?? '', ...upstashTimeouts });
  }
  if (process.env.TOWNSQUARE_PUBLISHER === 'redis' || (!process.env.TOWNSQUARE_PUBLISHER && env.REDIS_URL)) {
    if (!env.REDIS_URL) throw new Error('REDIS_URL is not set; the deployment must provide it');
    const password = env.REDIS_AUTH_SECRET_ARN ? await readSecret(env.REDIS_AUTH_SECRET_ARN) : undefined;
    const onEvent = (event: string, role: string, detail?: unknown) => {
      if (event !== 'ready') logger.warn('redis connection event', { event, role, error: detail });
    };
    return envFlag(env, 'REDIS_CLUSTER')
      ? new RedisClusterBroker({ url: env.REDIS_URL, password, onEvent, failFast: true, redis: { clusterRetryStrategy: functionRetryStrategy, redisOptions: functionRedisOptions } })
      : new RedisBroker({ url: env.REDIS_URL, redis: { ...functionRedisOptions, ...(password && { password }) }, onEvent, failFast: true });
  }
  if (env.TOWNSQUARE_BROKER === 'memory') return processMemoryBroker();
  throw new Error('No publisher configured: set REDIS_URL, UPSTASH_SECRET_ARN, or TOWNSQUARE_BROKER=memory (local stack)');
}
