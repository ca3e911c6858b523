/**
 * The HTTP API's routes: the one list that the local API server and the CDK
 * app both read. Pure data (no runtime imports), so infra can import it.
 */
import type { TableName } from '../shared/tables.js';

/** A DynamoDB item action on a table. */
export type ItemAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'BatchWriteItem';
/** An action on a table itself, or `Query:{indexName}`: a Query on one of its global secondary indexes. */
export type TableAction = ItemAction | `Query:${string}`;
/**
 * Per table, exactly the DynamoDB calls the route's handler makes (read them
 * in functions/adapters/dynamo-stores.ts and shared/membership-reader.ts).
 * The function's IAM policy is this and nothing more (infra/lib/api-functions.ts);
 * test/infra/route-permissions.test.ts runs every handler on dynalite and checks
 * that it calls exactly these.
 */
export type TableAccess = Partial<Record<TableName, readonly TableAction[]>>;

/** An S3 action on the document snapshot bucket (infra/lib/document-snapshots.ts grants it on the `snapshots/` prefix only). */
export type SnapshotAction = 'GetObject' | 'PutObject' | 'DeleteObject' | 'ListBucket';

export interface RouteDefinition {
  /** API Gateway route key, e.g. `POST /rooms/{roomId}/messages`. */
  routeKey: string;
  /** Handler source, relative to the repository root; the module exports `handler`. */
  entry: string;
  /** The DynamoDB actions the handler calls, per table (its least-privilege grants). */
  dynamo: TableAccess;
  /** Derived from `dynamo`: the tables the handler reads (Get/BatchGet/Query), and the ones it writes (Put/Update/Delete). */
  readonly reads: readonly TableName[];
  readonly writes: readonly TableName[];
  /** Whether the handler publishes to Redis (and so needs to reach it). */
  publishes: boolean;
  /** The S3 calls the handler makes on the document snapshot bucket (its grants there; none without). */
  snapshots?: readonly SnapshotAction[];
  /**
   * The token scope the route requires (logical name, e.g. `notify`): the gateway
   * refuses a token without it with 403 before the handler runs. Such a route is
   * for servers: in AWS its own authorizer admits the client-credentials app client.
   */
  scope?: 'notify';
  /** The function's memory (and so its CPU share), when the default does not fit. @default 512 */
  memoryMb?: number;
}

const WRITE_ACTIONS: readonly TableAction[] = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'];

function route(def: Omit<RouteDefinition, 'reads' | 'writes'>): RouteDefinition {
  const tables = Object.entries(def.dynamo) as Array<[TableName, readonly TableAction[]]>;
  return {
    ...def,
    reads: tables.filter(([, actions]) => actions.some((a) => !WRITE_ACTIONS.includes(a))).map(([t]) => t),
    writes: tables.filter(([, actions]) => actions.some((a) => WRITE_ACTIONS.includes(a))).map(([t]) => t),
  };
}

// What each handler calls, through functions/adapters/dynamo-stores.ts:
// - room access (functions/domain/channel-access.ts): GetItem on memberships; GetItem on rooms
//   only when refused (to tell not_found from forbidden);
// - room caps (countMemberships): Query on memberships' byUser index;
// - the channel log (functions/domain/channel-log.ts): append = UpdateItem on the counter item,
//   PutItem of the entry (or of a gap tombstone), GetItem of a seq; with a clientMessageId also
//   PutItem + GetItem of the claim and UpdateItem (record its seq, take it over) in idempotency;
//   read = GetItem of the counter, Query of the entries, PutItem + GetItem of gap tombstones;
// - notifications (functions/domain/notifications.ts): with a key, PutItem + GetItem of its claim and UpdateItem
//   to take it over and release it; on a retry, BatchGetItem of the inbox items an earlier attempt stored and of
//   the entries at their seqs; per recipient UpdateItem (seq) and PutItem of the entry, GetItem of a seq found taken;
//   BatchWriteItem of the inbox items and unread flags; DeleteItem of an inbox item (and flag) whose entry could not
//   be stored. A chat send does the same for the members it mentions (found with one BatchGetItem on memberships;
//   its key: the message id);
// - the inbox (functions/domain/inbox.ts): Query + BatchGetItem to list, Query (COUNT) to count, GetItem +
//   DeleteItem to mark one read, Query + BatchWriteItem to mark all; a mark appends its event to the user channel
//   (UpdateItem, PutItem, and GetItem of a seq found taken).
// - documents (functions/domain/documents.ts): access = GetItem on memberships (the `#document:{docId}` group), GetItem
//   on documents when refused (not_found) and for the title; collaborators as room members (caps: Query on byUser);
//   state = GetItem of the snapshot pointer (+ GetObject when in S3) and a channel-log read; an update = a channel-log
//   append, then, when a compaction is due, a read of the state, PutObject (large), PutItem of the pointer (conditional),
//   GetItem of it when that lost, ListBucket + DeleteObject of replaced objects.
export const routes: readonly RouteDefinition[] = [
  route({
    routeKey: 'POST /rooms',
    entry: 'functions/handlers/create-room.ts',
    dynamo: { rooms: ['PutItem'], memberships: ['Query:byUser', 'PutItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'GET /rooms',
    entry: 'functions/handlers/list-rooms.ts',
    dynamo: { rooms: ['BatchGetItem'], memberships: ['Query:byUser'] },
    publishes: false,
  }),
  route({
    routeKey: 'POST /rooms/{roomId}/members',
    entry: 'functions/handlers/add-member.ts',
    dynamo: { rooms: ['GetItem'], memberships: ['GetItem', 'Query:byUser', 'PutItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'PATCH /rooms/{roomId}/members/{userId}',
    entry: 'functions/handlers/change-member-role.ts',
    dynamo: { rooms: ['GetItem'], memberships: ['GetItem', 'UpdateItem'] },
    publishes: false,
  }),
  route({
    // Query (on the table): whether an owner who leaves is alone in the room.
    routeKey: 'DELETE /rooms/{roomId}/members/{userId}',
    entry: 'functions/handlers/remove-member.ts',
    dynamo: { rooms: ['GetItem'], memberships: ['GetItem', 'Query', 'DeleteItem'] },
    publishes: true,
  }),
  route({
    routeKey: 'POST /rooms/{roomId}/messages',
    entry: 'functions/handlers/send-message.ts',
    dynamo: {
      rooms: ['GetItem'],
      memberships: ['GetItem', 'BatchGetItem'],
      messages: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem'],
      idempotency: ['GetItem', 'PutItem', 'UpdateItem'],
      inbox: ['BatchGetItem', 'BatchWriteItem', 'DeleteItem'],
    },
    publishes: true,
  }),
  route({
    // Writes only gap tombstones (PutItem; a seq reserved but left empty past the bound).
    routeKey: 'GET /rooms/{roomId}/messages',
    entry: 'functions/handlers/list-messages.ts',
    dynamo: { rooms: ['GetItem'], memberships: ['GetItem'], messages: ['GetItem', 'Query', 'PutItem'] },
    publishes: false,
  }),
  route({
    // The history of any durable channel; writes only gap tombstones, as above. Reads a room or document only when refused.
    routeKey: 'GET /channels/{channel}/messages',
    entry: 'functions/handlers/list-channel-messages.ts',
    dynamo: { rooms: ['GetItem'], documents: ['GetItem'], memberships: ['GetItem'], messages: ['GetItem', 'Query', 'PutItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'POST /notifications',
    entry: 'functions/handlers/notify.ts',
    dynamo: {
      messages: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem'],
      idempotency: ['GetItem', 'PutItem', 'UpdateItem'],
      inbox: ['BatchGetItem', 'BatchWriteItem', 'DeleteItem'],
    },
    publishes: true,
    scope: 'notify',
    // 1,769 MB is one full vCPU: a 1,000-recipient call makes about 2,080 DynamoDB requests, and
    // the SDK's CPU per request (signing, serializing) is most of its time (bench/notify.ts).
    memoryMb: 1769,
  }),
  route({
    routeKey: 'GET /me/notifications',
    entry: 'functions/handlers/list-notifications.ts',
    dynamo: { inbox: ['Query', 'BatchGetItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'GET /me/notifications/unread-count',
    entry: 'functions/handlers/unread-count.ts',
    dynamo: { inbox: ['Query'] },
    publishes: false,
  }),
  route({
    // The `notification.read` entry: UpdateItem (its seq), PutItem (it, or a tombstone when out of time), GetItem (a seq found taken).
    routeKey: 'POST /me/notifications/{id}/read',
    entry: 'functions/handlers/mark-notification-read.ts',
    dynamo: { inbox: ['GetItem', 'DeleteItem', 'Query'], messages: ['UpdateItem', 'PutItem', 'GetItem'] },
    publishes: true,
  }),
  route({
    routeKey: 'POST /me/notifications/read-all',
    entry: 'functions/handlers/mark-all-notifications-read.ts',
    dynamo: { inbox: ['Query', 'BatchWriteItem'], messages: ['UpdateItem', 'PutItem', 'GetItem'] },
    publishes: true,
  }),
  route({
    routeKey: 'POST /documents',
    entry: 'functions/handlers/create-document.ts',
    dynamo: { documents: ['PutItem'], memberships: ['Query:byUser', 'PutItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'GET /documents',
    entry: 'functions/handlers/list-documents.ts',
    dynamo: { documents: ['BatchGetItem'], memberships: ['Query:byUser'] },
    publishes: false,
  }),
  route({
    // Writes only gap tombstones of the log (PutItem), as the history routes do.
    routeKey: 'GET /documents/{docId}',
    entry: 'functions/handlers/get-document.ts',
    dynamo: { documents: ['GetItem'], memberships: ['GetItem'], documentSnapshots: ['GetItem'], messages: ['GetItem', 'Query', 'PutItem'] },
    snapshots: ['GetObject'],
    publishes: false,
    // Merging a snapshot and its log tail is CPU work: twice the default share.
    memoryMb: 1024,
  }),
  route({
    routeKey: 'POST /documents/{docId}/updates',
    entry: 'functions/handlers/post-document-update.ts',
    dynamo: {
      documents: ['GetItem'],
      memberships: ['GetItem'],
      messages: ['GetItem', 'PutItem', 'UpdateItem', 'Query'],
      idempotency: ['GetItem', 'PutItem', 'UpdateItem'],
      documentSnapshots: ['GetItem', 'PutItem'],
    },
    snapshots: ['GetObject', 'PutObject', 'ListBucket', 'DeleteObject'],
    publishes: true,
    memoryMb: 1024,
  }),
  route({
    routeKey: 'GET /documents/{docId}/updates',
    entry: 'functions/handlers/list-document-updates.ts',
    dynamo: { documents: ['GetItem'], memberships: ['GetItem'], messages: ['GetItem', 'Query', 'PutItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'POST /documents/{docId}/collaborators',
    entry: 'functions/handlers/add-collaborator.ts',
    dynamo: { documents: ['GetItem'], memberships: ['GetItem', 'Query:byUser', 'PutItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'PATCH /documents/{docId}/collaborators/{userId}',
    entry: 'functions/handlers/change-collaborator-role.ts',
    dynamo: { documents: ['GetItem'], memberships: ['GetItem', 'UpdateItem'] },
    publishes: false,
  }),
  route({
    routeKey: 'DELETE /documents/{docId}/collaborators/{userId}',
    entry: 'functions/handlers/remove-collaborator.ts',
    dynamo: { documents: ['GetItem'], memberships: ['GetItem', 'Query', 'DeleteItem'] },
    publishes: true,
  }),
];
