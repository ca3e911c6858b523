/**
 * Builds a relay from its configuration: broker (Redis, or the in-process one
 * when there is no REDIS_URL), token verifier, channel access over the
 * memberships table, presence, metrics. `main.ts` runs it as a process; the
 * local stack's Redis-less mode runs one in-process with a shared broker.
 */
import type { Logger } from 'pino';
import { MemoryBroker } from '../broker/memory.js';
import { RedisBroker } from '../broker/redis.js';
import { RedisClusterBroker } from '../broker/redis-cluster.js';
import type { Broker } from '../broker/types.js';
import { createDynamoClient } from '../functions/adapters/dynamo-client.js';
import { DynamoMembershipReader } from '../functions/adapters/dynamo-stores.js';
import { ChannelAccess } from './access.js';
import { createTokenVerifier } from './auth.js';
import type { RelayConfig } from './config.js';
import { startEmfMetrics } from './emf-metrics.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { MemoryPresence, RedisPresence } from './presence.js';
import { createRelay, type Relay } from './server.js';

export interface ComposedRelay {
  relay: Relay;
  metrics: RelayMetrics;
  /** Drains clients, then closes broker and presence connections. */
  shutdown(): Promise<void>;
}

export function composeRelay(config: RelayConfig, logger: Logger, overrides: { broker?: Broker } = {}): ComposedRelay {
  const metrics = createRelayMetrics();
  let broker: Broker;
  let brokerHealthy: () => boolean = () => true;
  let redisReconnects = 0;
  // Set once the relay exists; a subscriber 'ready' after the first one ends an outage.
  let afterOutage: (() => void) | undefined;
  let subscriberReadies = 0;
  if (overrides.broker) {
    broker = overrides.broker;
  } else if (config.REDIS_URL) {
    const onEvent = (event: 'error' | 'reconnecting' | 'ready', role: string, detail?: unknown) => {
      metrics.brokerEvents.inc({ event });
      if (event === 'reconnecting') redisReconnects++;
      if (event === 'ready' && role === 'subscriber' && ++subscriberReadies > 1) afterOutage?.();
      if (event === 'ready') logger.info({ role }, 'redis ready');
      else logger.warn({ role, event, err: detail }, 'redis connection problem; retrying');
    };
    const password = config.REDIS_PASSWORD;
    const redis = config.REDIS_CLUSTER
      ? new RedisClusterBroker({ url: config.REDIS_URL, password, onEvent })
      : new RedisBroker({ url: config.REDIS_URL, redis: password ? { password } : {}, onEvent });
    brokerHealthy = () => redis.healthy;
    broker = redis;
    // Connect now rather than on the first subscribe; clients are served meanwhile.
    void redis.ready();
  } else {
    logger.warn('REDIS_URL is not set: using the in-process broker, so run a single relay only');
    broker = new MemoryBroker();
  }

  const db = createDynamoClient({ endpoint: config.DYNAMODB_ENDPOINT });
  const presence =
    config.REDIS_URL && !overrides.broker
      ? new RedisPresence({ url: config.REDIS_URL, password: config.REDIS_PASSWORD, cluster: config.REDIS_CLUSTER })
      : new MemoryPresence();

  const relay = createRelay({
    broker,
    verifyToken: createTokenVerifier({
      jwks: config.JWT_JWKS_URL,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      algorithms: config.JWT_ALGORITHMS,
      maxLifetimeSec: config.JWT_MAX_LIFETIME_SEC,
    }),
    access: new ChannelAccess(new DynamoMembershipReader(db, config.MEMBERSHIPS_TABLE)),
    presence,
    logger,
    metrics,
    brokerHealthy,
    limits: {
      maxSubscriptions: config.MAX_SUBSCRIPTIONS,
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
      frameRate: config.FRAME_RATE,
      frameBurst: config.FRAME_BURST,
      maxSignalBytes: config.MAX_SIGNAL_BYTES,
    },
    userLimits: {
      maxConnections: config.MAX_CONNECTIONS_PER_USER,
      signalRate: config.SIGNAL_RATE,
      subscribeRate: config.SUBSCRIBE_RATE,
      subscribeBurst: config.SUBSCRIBE_BURST,
    },
    maxConnectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
    maxPendingPerIp: config.MAX_PENDING_PER_IP,
    trustProxyHops: config.TRUST_PROXY_HOPS,
    handshakeTimeoutMs: config.HANDSHAKE_TIMEOUT_MS,
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    authTimeoutMs: config.AUTH_TIMEOUT_MS,
    heartbeatMs: config.HEARTBEAT_MS,
  });

  afterOutage = () => {
    void relay.resync().then(
      ({ checked, revoked }) => logger.info({ checked, revoked }, 'resynced subscriptions after a Redis outage'),
      (err) => logger.error({ err }, 'resync after a Redis outage failed'),
    );
  };

  const stopEmf = config.RELAY_METRICS_NAMESPACE
    ? startEmfMetrics({
        namespace: config.RELAY_METRICS_NAMESPACE,
        service: config.RELAY_METRICS_SERVICE,
        connections: () => relay.connectionCount(),
        takeRedisReconnects: () => {
          const count = redisReconnects;
          redisReconnects = 0;
          return count;
        },
      })
    : () => {};

  return {
    relay,
    metrics,
    async shutdown() {
      stopEmf();
      await relay.drain(config.DRAIN_TIMEOUT_MS);
      await Promise.allSettled([broker.close(), presence.close()]);
      db.destroy();
    },
  };
}
