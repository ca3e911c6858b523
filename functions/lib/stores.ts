/**
 * DynamoDB stores built from the environment once per Lambda container
 * (module scope survives between invocations), so the client is reused.
 * The channel log's retention comes with them: every caller of the log
 * spreads these into its deps, and must apply the same setting.
 */
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { TABLE_NAMES, tables as tableDefinitions, type TableNames } from '../../shared/tables.js';
import { DynamoInboxStore } from '../adapters/dynamo-inbox.js';
import { DynamoChannelStore, DynamoRoomStore } from '../adapters/dynamo-stores.js';
import type { ChannelStore, InboxStore, RoomStore } from '../domain/ports.js';
import { requireEnv } from './env.js';
import { retentionFromEnv } from './retention.js';

export interface Stores {
  rooms: RoomStore;
  channels: ChannelStore;
  inbox: InboxStore;
  /** MESSAGE_RETENTION_DAYS in ms; undefined: entries never expire. */
  retentionMs?: number;
}

let stores: Stores | undefined;

export function getStores(env: NodeJS.ProcessEnv = process.env): Stores {
  if (stores) return stores;
  const db = createDynamoClient({ endpoint: env.DYNAMODB_ENDPOINT });
  const tables = Object.fromEntries(TABLE_NAMES.map((name) => [name, requireEnv(env, tableDefinitions[name].envVar)])) as TableNames;
  return (stores = { rooms: new DynamoRoomStore(db, tables), channels: new DynamoChannelStore(db, tables), inbox: new DynamoInboxStore(db, tables), ...retentionFromEnv(env) });
}
