/**
 * DynamoDB stores built from the environment once per Lambda container
 * (module scope survives between invocations), so the client is reused.
 */
import { createDynamoClient } from '../adapters/dynamo-client.js';
import { DynamoChannelStore, DynamoRoomStore } from '../adapters/dynamo-stores.js';
import { tableEnvVar } from '../adapters/table-schemas.js';
import type { ChannelStore, RoomStore } from '../domain/ports.js';
import { requireEnv } from './env.js';

export interface Stores {
  rooms: RoomStore;
  channels: ChannelStore;
}

let stores: Stores | undefined;

export function getStores(env: NodeJS.ProcessEnv = process.env): Stores {
  if (stores) return stores;
  const db = createDynamoClient({ endpoint: env.DYNAMODB_ENDPOINT });
  const tables = {
    rooms: requireEnv(env, tableEnvVar.rooms),
    memberships: requireEnv(env, tableEnvVar.memberships),
    messages: requireEnv(env, tableEnvVar.messages),
    idempotency: requireEnv(env, tableEnvVar.idempotency),
  };
  return (stores = { rooms: new DynamoRoomStore(db, tables), channels: new DynamoChannelStore(db, tables) });
}
