/**
 * The composition root of the functions: stores and publisher built from the
 * environment once per Lambda container (module scope survives between
 * invocations), so connections are reused rather than opened per request.
 */
import type { Publisher } from '../../broker/types.js';
import { processMemoryBroker } from '../../broker/memory.js';
import { RedisBroker } from '../../broker/redis.js';
import { createDocumentClient } from '../adapters/dynamo-client.js';
import { DynamoMessageStore, DynamoRoomStore } from '../adapters/dynamo-stores.js';
import { LoggedPublisher } from '../adapters/logged-publisher.js';
import { tableEnvVar } from '../adapters/table-schemas.js';
import type { MessageStore, RoomStore } from '../domain/ports.js';
import { logger } from './logger.js';

export interface Deps {
  rooms: RoomStore;
  messages: MessageStore;
  publisher: Publisher;
}

let deps: Deps | undefined;

export function getDeps(env: NodeJS.ProcessEnv = process.env): Deps {
  return (deps ??= buildDeps(env));
}

function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the deployment must provide it`);
  return value;
}

function buildDeps(env: NodeJS.ProcessEnv): Deps {
  const db = createDocumentClient({ endpoint: env.DYNAMODB_ENDPOINT });
  const tables = {
    rooms: requireEnv(env, tableEnvVar.rooms),
    memberships: requireEnv(env, tableEnvVar.memberships),
    messages: requireEnv(env, tableEnvVar.messages),
    idempotency: requireEnv(env, tableEnvVar.idempotency),
  };
  return {
    rooms: new DynamoRoomStore(db, tables),
    messages: new DynamoMessageStore(db, tables),
    publisher: new LoggedPublisher(createPublisher(env), logger),
  };
}

function createPublisher(env: NodeJS.ProcessEnv): Publisher {
  if (env.TOWNSQUARE_BROKER === 'memory') return processMemoryBroker();
  if (env.REDIS_URL) {
    return new RedisBroker({
      url: env.REDIS_URL,
      onEvent: (event, role, detail) => {
        if (event !== 'ready') logger.warn({ event, role, err: detail }, 'redis connection event');
      },
    });
  }
  throw new Error('No broker configured: set REDIS_URL (or TOWNSQUARE_BROKER=memory for the local stack)');
}
