/**
 * The relay's one public entry for running it inside another process: the
 * local stack's Redis-less mode, where the relay and the functions share the
 * in-process broker. Everywhere else the relay runs as its own process (the
 * bundle built from main.ts). Code outside socket-relay/ imports this file and
 * nothing else from here (test/unit/module-boundaries.test.ts checks it), so
 * the relay's internals can change without reaching into the local stack.
 */
import type { Broker } from '../broker/types.js';
import { composeRelay } from './compose.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';

export interface EmbeddedRelayOptions {
  /**
   * The relay's environment, as its process would read it (JWT_*, MEMBERSHIPS_TABLE,
   * DYNAMODB_ENDPOINT, …; see socket-relay/config.ts). Invalid values throw, listing every problem.
   */
  env: Record<string, string | undefined>;
  /** A broker shared with the host, instead of the one REDIS_URL selects. */
  broker?: Broker;
}

export interface EmbeddedRelay {
  /** The port it listens on (HOST and PORT of `env`; PORT 0 picks a free one). Clients connect to `/ws`. */
  port: number;
  /** Drains its clients (they get 1012) and closes its connections. */
  stop(): Promise<void>;
}

export async function startEmbeddedRelay(options: EmbeddedRelayOptions): Promise<EmbeddedRelay> {
  const config = loadConfig(options.env);
  const composed = composeRelay(config, createLogger(config.LOG_LEVEL), options.broker ? { broker: options.broker } : {});
  let address;
  try {
    address = await composed.relay.listen(config.PORT, config.HOST);
  } catch (err) {
    await composed.shutdown();
    throw err;
  }
  return {
    port: address.port,
    stop: () => composed.shutdown(),
  };
}
