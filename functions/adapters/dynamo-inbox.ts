/**
 * The inbox in DynamoDB (functions/domain/inbox.ts): per user (partition
 * `userId`), a notification at `n#{id}` and, while it is unread, a small flag
 * at `u#{id}` carrying the item's seq. Ids start with their time, so both
 * sort newest last; the unread count is a consistent count of flags.
 *
 * An item and its flag are two writes. A write that did not complete is taken
 * back half by half, each half conditional on the seq it carries: a flag that
 * landed without its item goes as surely as an item without its flag, and
 * another attempt's pair (another seq) stays.
 */
import { DeleteItemCommand, GetItemCommand, QueryCommand, type DynamoDBClient, type QueryCommandOutput, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { InboxItem, InboxPage, InboxStore } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';
import type { TableNames } from '../../shared/tables.js';
import { batchGet, batchWrite } from './dynamo-batch.js';
import { conditional } from './dynamo-stores.js';

const itemKey = (id: string) => `n#${id}`;
const flagKey = (id: string) => `u#${id}`;
const idOf = (sk: string) => sk.slice(2);
const keyOf = (userId: string, id: string) => `${userId}\n${id}`;

export class DynamoInboxStore implements InboxStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: Pick<TableNames, 'inbox'>,
  ) {}

  async storedSeqs(keys: ReadonlyArray<{ userId: string; id: string }>, now: number): Promise<Map<string, number>> {
    const items = await batchGet<{ userId: string; sk: string; seq: number; expiresAt: number }>(
      this.db,
      this.tables.inbox,
      keys.map(({ userId, id }) => ({ userId, sk: itemKey(id) })),
      'userId, sk, seq, expiresAt',
    );
    return new Map(items.filter((i) => i.expiresAt * 1000 > now).map((i) => [keyOf(i.userId, idOf(i.sk)), i.seq]));
  }

  async putItems(items: InboxItem[]): Promise<void> {
    await batchWrite(
      this.db,
      this.tables.inbox,
      items.map((item): WriteRequest[] => [
        { PutRequest: { Item: toAttributes({ ...item, sk: itemKey(item.id) }) } },
        { PutRequest: { Item: toAttributes({ userId: item.userId, sk: flagKey(item.id), seq: item.seq, expiresAt: item.expiresAt }) } },
      ]),
    );
  }

  async removeItem(userId: string, id: string, seq: number): Promise<void> {
    const remove = (sk: string) =>
      conditional(
        this.db.send(
          new DeleteItemCommand({
            TableName: this.tables.inbox,
            Key: toAttributes({ userId, sk }),
            ConditionExpression: 'seq = :seq',
            ExpressionAttributeValues: toAttributes({ ':seq': seq }),
          }),
        ),
      );
    await Promise.all([remove(itemKey(id)), remove(flagKey(id))]);
  }

  async getItem(userId: string, id: string, now: number): Promise<(InboxItem & { read: boolean }) | null> {
    const get = (sk: string) =>
      this.db.send(new GetItemCommand({ TableName: this.tables.inbox, Key: toAttributes({ userId, sk }), ConsistentRead: true }));
    const [item, flag] = await Promise.all([get(itemKey(id)), get(flagKey(id))]);
    const stored = fromAttributes<InboxItem & { sk: string }>(item.Item);
    if (!stored || stored.expiresAt * 1000 <= now) return null;
    return { ...plain(stored), read: !flag.Item };
  }

  async list(userId: string, options: { limit: number; after?: string; unread: boolean; now: number }): Promise<InboxPage> {
    // One beyond the page says whether more follow. Unread: the flags give the ids, newest first.
    const prefix = options.unread ? 'u#' : 'n#';
    const want = options.limit + 1;
    const keys: string[] = [];
    let start: AttributeMap | undefined = options.after === undefined ? undefined : toAttributes({ userId, sk: `${prefix}${options.after}` });
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.inbox,
          KeyConditionExpression: 'userId = :u AND begins_with(sk, :p)',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: toAttributes({ ':u': userId, ':p': prefix, ':now': Math.floor(options.now / 1000) }),
          ProjectionExpression: 'sk',
          ScanIndexForward: false,
          ConsistentRead: true,
          Limit: want - keys.length,
          ExclusiveStartKey: start,
        }),
      );
      keys.push(...(out.Items ?? []).map((i) => idOf(fromAttributes<{ sk: string }>(i).sk)));
      start = out.LastEvaluatedKey;
    } while (start && keys.length < want);
    const ids = keys.slice(0, options.limit);
    const [items, flags] = await Promise.all([
      batchGet<InboxItem & { sk: string }>(this.db, this.tables.inbox, ids.map((id) => ({ userId, sk: itemKey(id) }))),
      options.unread
        ? Promise.resolve(ids.map((id) => ({ sk: flagKey(id) })))
        : batchGet<{ sk: string }>(this.db, this.tables.inbox, ids.map((id) => ({ userId, sk: flagKey(id) })), 'sk'),
    ]);
    const unread = new Set(flags.map((f) => idOf(f.sk)));
    const byId = new Map(items.map((i) => [idOf(i.sk), i]));
    return {
      // An item whose flag outlived it (both expire together; DynamoDB deletes them apart) is left out.
      items: ids.flatMap((id) => {
        const item = byId.get(id);
        return item && item.expiresAt * 1000 > options.now ? [{ ...plain(item), read: !unread.has(id) }] : [];
      }),
      ...(keys.length > options.limit && { after: ids.at(-1)! }),
    };
  }

  async clearUnread(userId: string, id: string): Promise<boolean> {
    const out = await this.db.send(
      new DeleteItemCommand({ TableName: this.tables.inbox, Key: toAttributes({ userId, sk: flagKey(id) }), ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes !== undefined;
  }

  async clearSomeUnread(userId: string, limit: number, now: number): Promise<{ cleared: number; more: boolean }> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tables.inbox,
        KeyConditionExpression: 'userId = :u AND begins_with(sk, :p)',
        ExpressionAttributeValues: toAttributes({ ':u': userId, ':p': 'u#' }),
        ProjectionExpression: 'userId, sk, expiresAt',
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    const flags = (out.Items ?? []).map((item) => fromAttributes<{ userId: string; sk: string; expiresAt: number }>(item));
    await batchWrite(
      this.db,
      this.tables.inbox,
      flags.map((f) => [{ DeleteRequest: { Key: toAttributes({ userId: f.userId, sk: f.sk }) } }]),
    );
    return { cleared: flags.filter((f) => f.expiresAt * 1000 > now).length, more: out.LastEvaluatedKey !== undefined };
  }

  /** Reads at most `upTo` unexpired flags, plus the expired ones DynamoDB's TTL has not deleted yet (it does within days). */
  async countUnread(userId: string, now: number, upTo: number): Promise<number> {
    let count = 0;
    let start: AttributeMap | undefined;
    while (count < upTo) {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.inbox,
          KeyConditionExpression: 'userId = :u AND begins_with(sk, :p)',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: toAttributes({ ':u': userId, ':p': 'u#', ':now': Math.floor(now / 1000) }),
          Select: 'COUNT',
          ConsistentRead: true,
          Limit: upTo - count,
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return Math.min(count, upTo);
  }
}

/** The stored item without its table key. */
function plain(stored: InboxItem & { sk: string }): InboxItem {
  const { sk: _sk, ...item } = stored;
  return item;
}
