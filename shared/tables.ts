/**
 * The DynamoDB tables: the one list that the functions (routes' grants, the
 * stores), the relay's deployment, the CDK app (real tables) and the local
 * stack / tests (dynalite tables) all read. Each table's logical name, the
 * environment variable that carries its physical name, and its key schema
 * sit together, so adding a table is one entry here. Pure data.
 */

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface TableSchema {
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /** Attribute holding an epoch-seconds expiry (DynamoDB TTL); items without it never expire. */
  ttlAttribute?: string;
  globalIndexes?: Array<{ indexName: string; partitionKey: KeyAttribute; sortKey?: KeyAttribute }>;
}

export interface TableDefinition extends TableSchema {
  /** Environment variable that carries the table's physical name into a function or relay. */
  envVar: string;
}

export const MEMBERSHIPS_BY_USER_INDEX = 'byUser';

const TABLES = {
  rooms: { envVar: 'ROOMS_TABLE', partitionKey: { name: 'roomId', type: 'S' } },
  memberships: {
    envVar: 'MEMBERSHIPS_TABLE',
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
  // TTL always on: only entries written with message retention (MESSAGE_RETENTION_DAYS) carry `expiresAt`; the counter never does.
  messages: {
    envVar: 'MESSAGES_TABLE',
    partitionKey: { name: 'channel', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    ttlAttribute: 'expiresAt',
  },
  idempotency: { envVar: 'IDEMPOTENCY_TABLE', partitionKey: { name: 'key', type: 'S' }, ttlAttribute: 'expiresAt' },
  // Each user's notification inbox (functions/domain/inbox.ts): `n#{id}` holds a notification, `u#{id}` exists
  // while it is unread. Every item expires (INBOX_RETENTION_DAYS): the inbox keeps a bounded history.
  inbox: {
    envVar: 'INBOX_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  // Collaborative documents (functions/domain/documents.ts): one record per document; collaborators are memberships
  // (shared/member-groups.ts), updates are the `document:{docId}` channel's log entries in the messages table.
  documents: { envVar: 'DOCUMENTS_TABLE', partitionKey: { name: 'docId', type: 'S' } },
  // Each document's latest snapshot pointer (functions/domain/document-compaction.ts): the snapshot itself when it
  // fits (up to 350 KiB), else the key of its object in the snapshot bucket.
  documentSnapshots: { envVar: 'DOCUMENT_SNAPSHOTS_TABLE', partitionKey: { name: 'docId', type: 'S' } },
} satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;

/** Every table, by logical name. */
export const tables: Readonly<Record<TableName, TableDefinition>> = TABLES;

export const TABLE_NAMES = Object.keys(TABLES) as readonly TableName[];

/** Physical table names, by logical name (what the stores are given). */
export type TableNames = Record<TableName, string>;

/** `tables[name].envVar` for each table: the shape deployment code spreads into an environment. */
export const tableEnvVar: Readonly<Record<TableName, string>> = Object.fromEntries(
  TABLE_NAMES.map((name) => [name, TABLES[name].envVar]),
) as Record<TableName, string>;
