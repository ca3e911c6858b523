/**
 * DynamoDB key schemas, shared by the CDK app (real tables) and the local
 * stack / tests (dynalite tables). Pure data.
 */
import type { TableName } from '../routes.js';

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}
export interface TableSchema {
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /** Attribute holding an epoch-seconds expiry, when items are ephemeral. */
  ttlAttribute?: string;
  globalIndexes?: Array<{ indexName: string; partitionKey: KeyAttribute; sortKey?: KeyAttribute }>;
}

export const MEMBERSHIPS_BY_USER_INDEX = 'byUser';

export const tableSchemas: Record<TableName, TableSchema> = {
  rooms: { partitionKey: { name: 'roomId', type: 'S' } },
  memberships: {
    partitionKey: { name: 'roomId', type: 'S' },
    sortKey: { name: 'userId', type: 'S' },
    globalIndexes: [
      {
        indexName: MEMBERSHIPS_BY_USER_INDEX,
        partitionKey: { name: 'userId', type: 'S' },
        sortKey: { name: 'roomId', type: 'S' },
      },
    ],
  },
  // Every durable channel's log (functions/domain/channel-log.ts), and each channel's seq counter at (`#head#{channel}`, 0).
  messages: { partitionKey: { name: 'channel', type: 'S' }, sortKey: { name: 'seq', type: 'N' } },
  idempotency: { partitionKey: { name: 'key', type: 'S' }, ttlAttribute: 'expiresAt' },
};

/** Environment variable that carries each table's physical name into a function or relay. */
export const tableEnvVar: Record<TableName, string> = {
  rooms: 'ROOMS_TABLE',
  memberships: 'MEMBERSHIPS_TABLE',
  messages: 'MESSAGES_TABLE',
  idempotency: 'IDEMPOTENCY_TABLE',
};
