/**
 * The relay process: configuration from the environment, then listen.
 * SIGTERM/SIGINT drain the connections (clients get 1012 and reconnect
 * elsewhere) before exiting, within DRAIN_TIMEOUT_MS.
 */
import { composeRelay } from './compose.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

try {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const { relay, shutdown } = composeRelay(config, logger);
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
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG: nothing to retry until the configuration is fixed
  }
  console.error('relay failed to start:', err);
  process.exit(1);
}
