/**
 * The relay's composition root: configuration, broker, access, presence,
 * server; SIGTERM/SIGINT drain the connections (clients get 1012 and
 * reconnect elsewhere) before exiting.
 */
import { MemoryBroker } from '../broker/memory.js';
import { RedisBroker } from '../broker/redis.js';
import type { Broker } from '../broker/types.js';
import { createDocumentClient } from '../functions/adapters/dynamo-client.js';
import { DynamoRoomStore } from '../functions/adapters/dynamo-stores.js';
import { ChannelAccess } from './access.js';
import { createTokenVerifier } from './auth.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createRelayMetrics } from './metrics.js';
import { MemoryPresence, RedisPresence } from './presence.js';
import { createRelay } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL);
  const metrics = createRelayMetrics();

  let broker: Broker;
  let brokerHealthy: () => boolean = () => true;
  if (config.REDIS_URL) {
    const redis = new RedisBroker({
      url: config.REDIS_URL,
      onEvent: (event, role, detail) => {
        metrics.brokerEvents.inc({ event });
        if (event === 'ready') logger.info({ role }, 'redis ready');
        else logger.warn({ role, event, err: detail }, 'redis connection problem; retrying');
      },
    });
    brokerHealthy = () => redis.healthy;
    broker = redis;
  } else {
    logger.warn('REDIS_URL is not set: using the in-process broker; run a single relay only');
    broker = new MemoryBroker();
  }

  const db = createDocumentClient({ endpoint: config.DYNAMODB_ENDPOINT });
  const memberships = new DynamoRoomStore(db, { rooms: '', memberships: config.MEMBERSHIPS_TABLE });
  const presence = config.REDIS_URL ? new RedisPresence({ url: config.REDIS_URL }) : new MemoryPresence();

  const relay = createRelay({
    broker,
    verifyToken: createTokenVerifier({ jwks: config.JWT_JWKS_URL, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }),
    access: new ChannelAccess(memberships),
    presence,
    logger,
    metrics,
    brokerHealthy,
    limits: {
      maxSubscriptions: config.MAX_SUBSCRIPTIONS,
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
      frameRate: config.FRAME_RATE,
      frameBurst: config.FRAME_BURST,
      signalRate: config.SIGNAL_RATE,
    },
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    authTimeoutMs: config.AUTH_TIMEOUT_MS,
    heartbeatMs: config.HEARTBEAT_MS,
  });
  const address = await relay.listen(config.PORT, config.HOST);
  logger.info({ port: address.port, redis: Boolean(config.REDIS_URL) }, `relay listening on ws://${config.HOST}:${address.port}/ws`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, connections: relay.connectionCount() }, 'draining');
    await relay.drain(config.DRAIN_TIMEOUT_MS);
    await Promise.allSettled([broker.close(), presence.close()]);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  console.error('relay failed to start:', err);
  process.exit(1);
});
