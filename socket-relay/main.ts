/**
 * The relay process: configuration from the environment, then listen.
 * SIGTERM/SIGINT drain the connections (clients get 1012 and reconnect
 * elsewhere) before exiting, within DRAIN_TIMEOUT_MS; on ECS, so does the
 * task being stopped, which ECS announces before it signals (ecs-stop-watch.ts).
 */
import { composeRelay } from './compose.js';
import { ConfigError, loadConfig } from './config.js';
import { watchEcsStop } from './ecs-stop-watch.js';
import { createLogger } from './logger.js';

try {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const { relay, metrics, shutdown } = composeRelay(config, logger);
  // Last resort. A rejected promise nobody handled left no half-done synchronous work
  // behind, so the relay logs and counts it and keeps serving (every path should have its
  // own handler: each count is a bug). An exception thrown out of a callback may have
  // stopped anywhere, so the relay does not guess: it logs and exits, and ECS replaces it.
  process.on('unhandledRejection', (err) => {
    metrics.internalErrors.inc({ kind: 'unhandled_rejection' });
    logger.error({ err }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
  const address = await relay.listen(config.PORT, config.HOST);
  logger.info({ port: address.port, redis: Boolean(config.REDIS_URL) }, 'relay listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, connections: relay.connectionCount() }, 'draining');
    await shutdown();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const metadataUri = process.env.ECS_CONTAINER_METADATA_URI_V4;
  if (metadataUri) {
    watchEcsStop({
      metadataUri,
      onStopping: () => void stop('ECS task stopping'),
      onError: (err) => logger.debug({ err }, 'task metadata unavailable'),
    });
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG: nothing to retry until the configuration is fixed
  }
  console.error('relay failed to start:', err);
  process.exit(1);
}
