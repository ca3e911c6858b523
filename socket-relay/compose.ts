/**
 * Builds a relay from its configuration: broker (Redis, or the in-process one
 * when there is no REDIS_URL), token verifier, channel access over the
 * memberships table and its periodic re-check, presence (on the broker's
 * connection settings), metrics (outages from the broker's lifecycle events,
 * not its retries). `main.ts` runs it as a process; the
 * local stack's Redis-less mode runs one in-process with a shared broker.
 */
import type { Logger } from 'pino';
import { MemoryBroker } from '../broker/memory.js';
import { RedisBroker } from '../broker/redis.js';
import { RedisClusterBroker } from '../broker/redis-cluster.js';
import type { Broker, BrokerLifecycleEvent } from '../broker/types.js';
import { channelAccess } from '../shared/channel-access.js';
import { createDynamoClient } from '../shared/dynamo-client.js';
import { DynamoMembershipReader } from '../shared/membership-reader.js';
import { createTokenVerifier } from '../shared/token-verifier.js';
import { AccessRecheck } from './access-recheck.js';
import type { RelayConfig } from './config.js';
import { startEmfMetrics } from './emf-metrics.js';
import { countPresence, createRelayMetrics, type RelayMetrics } from './metrics.js';
import { MemoryPresence } from './memory-presence.js';
import { DynamoMembershipBatchReader } from './membership-batch.js';
import { RedisPresence, type Presence, type PresenceCounts } from './presence.js';
import { hasPresence } from './presence-rules.js';
import { resyncAfterBrokerGap } from './resync.js';
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
  let presence: Presence | undefined;
  const onCounts = (counts: PresenceCounts) => countPresence(metrics, counts);
  /** Broker outages since the last EMF line (the alarmed metric). */
  let redisOutages = 0;
  // Set once the relay exists: the broker's `resubscribed` ends an outage.
  let afterOutage: (() => void) | undefined;
  if (overrides.broker) {
    broker = overrides.broker;
  } else if (config.REDIS_URL) {
    const onEvent = (event: 'error' | 'reconnecting' | 'ready', role: string, detail?: unknown) => {
      metrics.brokerEvents.inc({ event });
      // Every retry reports one: the outage itself is logged once, from the lifecycle below.
      if (event === 'ready') logger.info({ role }, 'redis ready');
      else logger.debug({ role, event, err: detail }, 'redis connection problem; retrying');
    };
    let redisPresence: RedisPresence | undefined;
    const onLifecycle = (event: BrokerLifecycleEvent) => {
      metrics.brokerLifecycle.inc({ event });
      if (event === 'down') {
        redisOutages++;
        logger.warn('redis pub/sub is down: live delivery stops until it is back (retrying)');
      } else {
        logger.info({ event }, 'redis pub/sub recovering');
      }
      if (event === 'resubscribed') {
        afterOutage?.();
        // Presence hangs off the same hook: a restarted Redis has forgotten this relay's entries.
        redisPresence?.restore().catch((err: unknown) => logger.warn({ err }, 'presence restore failed'));
      }
    };
    const url = config.REDIS_URL;
    const password = config.REDIS_PASSWORD;
    const redis = config.REDIS_CLUSTER
      ? new RedisClusterBroker({ url, password, onEvent, onLifecycle, onInternalsChanged: (problem) => logger.error(problem) })
      : new RedisBroker({ url, password, onEvent, onLifecycle });
    brokerHealthy = () => redis.healthy;
    broker = redis;
    // The broker's own connection settings (URL, TLS, password, cluster), not a copy.
    presence = redisPresence = new RedisPresence({
      connection: redis.connection,
      logger,
      onError: (op) => metrics.presenceErrors.inc({ op }),
      onCounts,
      onHeartbeatSkipped: () => metrics.presenceHeartbeatSkips.inc(),
      eventLimit: config.PRESENCE_EVENT_LIMIT,
    });
    // Connect now rather than on the first subscribe; clients are served meanwhile.
    redis.ready().catch((err: unknown) => logger.warn({ err }, 'redis not ready yet; subscribes will wait for it'));
  } else {
    logger.warn('REDIS_URL is not set: using the in-process broker, so run a single relay only');
    broker = new MemoryBroker();
  }
  // One relay on the in-process broker: presence is this process's, its events go through the broker.
  presence ??= new MemoryPresence(broker, {
    eventLimit: config.PRESENCE_EVENT_LIMIT,
    onCounts,
    onError: (op, err) => {
      metrics.presenceErrors.inc({ op });
      logger.warn({ err, op }, 'presence event publish failed');
    },
  });

  const db = createDynamoClient({ endpoint: config.DYNAMODB_ENDPOINT });
  const access = channelAccess({ memberships: new DynamoMembershipReader(db, config.MEMBERSHIPS_TABLE) });
  const relay = createRelay({
    broker,
    verifyToken: createTokenVerifier({
      jwks: config.JWT_JWKS_URL,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      algorithms: config.JWT_ALGORITHMS,
      maxLifetimeSec: config.JWT_MAX_LIFETIME_SEC,
    }),
    access,
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

  // The backstop for revokes that never arrived: every subscription's access, batched, on a timer.
  const recheckDeps = {
    hub: relay.hub,
    access,
    memberships: new DynamoMembershipBatchReader(db, config.MEMBERSHIPS_TABLE),
    logger,
    metrics,
  };
  const recheck = new AccessRecheck(recheckDeps, config.ACCESS_RECHECK_MS);
  recheck.start();

  afterOutage = () => {
    // Presence events of the gap were lost too: every presence channel's subscribers start over.
    for (const channel of relay.hub.channelNames()) if (hasPresence(channel)) relay.snapshots.refresh(channel);
    void resyncAfterBrokerGap(relay.hub, recheck).then(
      ({ notified, checked, revoked }) => logger.info({ notified, checked, revoked }, 'resynced subscriptions after a Redis outage'),
      (err) => logger.error({ err }, 'resync after a Redis outage failed'),
    );
  };

  const stopEmf = config.RELAY_METRICS_NAMESPACE
    ? startEmfMetrics({
        namespace: config.RELAY_METRICS_NAMESPACE,
        service: config.RELAY_METRICS_SERVICE,
        connections: () => relay.connectionCount(),
        takeRedisOutages: () => {
          const count = redisOutages;
          redisOutages = 0;
          return count;
        },
        redisDown: () => !brokerHealthy(),
        takeDeliveries: () => {
          const count = metrics.totals.deliveries;
          metrics.totals.deliveries = 0;
          return count;
        },
        takeEnvelopesByChannelKind: () => {
          const byKind = new Map(metrics.totals.envelopesByChannelKind);
          metrics.totals.envelopesByChannelKind.clear();
          return byKind;
        },
      })
    : () => {};

  return {
    relay,
    metrics,
    async shutdown() {
      stopEmf();
      recheck.stop();
      await relay.drain(config.DRAIN_TIMEOUT_MS);
      await Promise.allSettled([broker.close(), presence.close()]);
      db.destroy();
    },
  };
}
