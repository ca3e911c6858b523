/**
 * DynamoDB implementations of the domain's stores. Conditional-check failures
 * become domain answers (false / existing item), never leaked exceptions.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  type WriteRequest,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { ChannelStore, InboxItem, InboxPage, InboxStore, LogClaim, LogEntry, LogHead, Membership, MembershipPage, Role, Room, RoomStore } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';
import { DynamoMembershipReader } from '../../shared/membership-reader.js';
import { MEMBERSHIPS_BY_USER_INDEX, type TableNames } from '../../shared/tables.js';

const isConditionFailure = (err: unknown) =>
  err instanceof Error && err.name === 'ConditionalCheckFailedException';

/** Runs a conditional write; resolves false when its condition did not hold. */
async function conditional(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_LIMIT = 100;
/** How long an idempotency claim is kept: retries later than this create a new message. */
const CLAIM_TTL_SECONDS = 24 * 60 * 60;

export class DynamoRoomStore implements RoomStore {
  private readonly memberships: DynamoMembershipReader<Membership>;

  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: Pick<TableNames, 'rooms' | 'memberships'>,
  ) {
    this.memberships = new DynamoMembershipReader<Membership>(db, tables.memberships);
  }

  async createRoom(room: Room, owner: Membership): Promise<void> {
    // Room first: a membership never points at a room that does not exist.
    await this.db.send(
      new PutItemCommand({ TableName: this.tables.rooms, Item: toAttributes({ ...room }), ConditionExpression: 'attribute_not_exists(roomId)' }),
    );
    await this.db.send(new PutItemCommand({ TableName: this.tables.memberships, Item: toAttributes({ ...owner }) }));
  }

  async getRoom(roomId: string): Promise<Room | null> {
    const { Item } = await this.db.send(new GetItemCommand({ TableName: this.tables.rooms, Key: toAttributes({ roomId }) }));
    return fromAttributes<Room>(Item);
  }

  async getRooms(roomIds: string[]): Promise<Room[]> {
    const rooms: Room[] = [];
    for (let i = 0; i < roomIds.length; i += BATCH_GET_LIMIT) {
      let keys: AttributeMap[] | undefined = roomIds.slice(i, i + BATCH_GET_LIMIT).map((roomId) => toAttributes({ roomId }));
      // Unprocessed keys come back under throttling; ask again until none are left.
      while (keys?.length) {
        const out: BatchGetItemCommandOutput = await this.db.send(
          new BatchGetItemCommand({ RequestItems: { [this.tables.rooms]: { Keys: keys } } }),
        );
        rooms.push(...(out.Responses?.[this.tables.rooms] ?? []).map((item) => fromAttributes<Room>(item)));
        keys = out.UnprocessedKeys?.[this.tables.rooms]?.Keys;
      }
    }
    return rooms;
  }

  getMembership(roomId: string, userId: string): Promise<Membership | null> {
    return this.memberships.getMembership(roomId, userId);
  }

  async listMemberships(userId: string, page: { limit: number; afterRoomId?: string }): Promise<MembershipPage> {
    // One item beyond the page tells whether more follow, so the last page says so
    // (a LastEvaluatedKey alone can point at nothing). A Query page stops at 1 MB:
    // keep reading until that many items or the end.
    const want = page.limit + 1;
    const items: Membership[] = [];
    let start: AttributeMap | undefined = page.afterRoomId === undefined ? undefined : toAttributes({ userId, roomId: page.afterRoomId });
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.memberships,
          IndexName: MEMBERSHIPS_BY_USER_INDEX,
          KeyConditionExpression: 'userId = :u',
          ExpressionAttributeValues: toAttributes({ ':u': userId }),
          Limit: want - items.length,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []).map((item) => fromAttributes<Membership>(item)));
      start = out.LastEvaluatedKey;
    } while (start && items.length < want);
    return { memberships: items.slice(0, page.limit), more: items.length > page.limit };
  }

  async countMemberships(userId: string, upTo: number, options: { addedByOthers?: boolean } = {}): Promise<number> {
    let count = 0;
    if (upTo <= 0) return 0;
    let start: AttributeMap | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.memberships,
          IndexName: MEMBERSHIPS_BY_USER_INDEX,
          KeyConditionExpression: 'userId = :u',
          // The index projects every attribute, so `addedBy` can be filtered on.
          ...(options.addedByOthers && { FilterExpression: 'addedBy <> :u' }),
          ExpressionAttributeValues: toAttributes({ ':u': userId }),
          Select: 'COUNT',
          Limit: upTo - count,
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start && count < upTo);
    return Math.min(count, upTo);
  }

  async hasOtherMembers(roomId: string, userId: string): Promise<boolean> {
    // Two items are enough: user ids are unique within a room, so one of two is someone else.
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tables.memberships,
        KeyConditionExpression: 'roomId = :r',
        ExpressionAttributeValues: toAttributes({ ':r': roomId }),
        ProjectionExpression: 'userId',
        Limit: 2,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).some((item) => fromAttributes<{ userId: string }>(item).userId !== userId);
  }

  addMember(membership: Membership): Promise<boolean> {
    return conditional(
      this.db.send(
        new PutItemCommand({
          TableName: this.tables.memberships,
          Item: toAttributes({ ...membership }),
          ConditionExpression: 'attribute_not_exists(userId)',
        }),
      ),
    );
  }

  setRole(roomId: string, userId: string, role: Role, ifRole?: Role | null): Promise<boolean> {
    const condition = roleCondition(ifRole);
    return conditional(
      this.db.send(
        new UpdateItemCommand({
          TableName: this.tables.memberships,
          Key: toAttributes({ roomId, userId }),
          UpdateExpression: 'SET #role = :newRole',
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: toAttributes({ ':newRole': role, ...condition.values }),
        }),
      ),
    );
  }

  removeMember(roomId: string, userId: string, ifRole?: Role | null): Promise<boolean> {
    const condition = roleCondition(ifRole);
    return conditional(
      this.db.send(
        new DeleteItemCommand({
          TableName: this.tables.memberships,
          Key: toAttributes({ roomId, userId }),
          ConditionExpression: condition.expression,
          ...(condition.expression.includes('#role') && { ExpressionAttributeNames: { '#role': 'role' } }),
          ...(condition.values && { ExpressionAttributeValues: toAttributes(condition.values) }),
        }),
      ),
    );
  }
}

/**
 * The condition that a membership exists and, when `ifRole` is given, still has
 * that role (null: no stored role, as memberships written before roles existed).
 */
function roleCondition(ifRole: Role | null | undefined): { expression: string; values?: Record<string, string> } {
  if (ifRole === undefined) return { expression: 'attribute_exists(userId)' };
  if (ifRole === null) return { expression: 'attribute_exists(userId) AND attribute_not_exists(#role)' };
  return { expression: '#role = :expectedRole', values: { ':expectedRole': ifRole } };
}

/** The counter item of a channel: its own partition key, so counter updates and entry puts use separate partitions. */
const headKey = (channel: string) => `#head#${channel}`;
const HEAD_SEQ = 0;

/**
 * The channel log's store: entries in the messages table (partition `channel`,
 * sort `seq`), each channel's counter at `(#head#{channel}, 0)` in the same
 * table, idempotency claims in the idempotency table.
 */
export class DynamoChannelStore implements ChannelStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: Pick<TableNames, 'messages' | 'idempotency'>,
    private readonly clock: () => number = Date.now,
  ) {}

  async reserveSeq(channel: string, now: number): Promise<number> {
    const out = await this.db.send(
      new UpdateItemCommand({
        TableName: this.tables.messages,
        Key: toAttributes({ channel: headKey(channel), seq: HEAD_SEQ }),
        // No `expiresAt`, ever: the counter outlives every entry, or seqs would start over.
        UpdateExpression: 'ADD lastSeq :one SET reservedAt = :now, firstAt = if_not_exists(firstAt, :now)',
        ExpressionAttributeValues: toAttributes({ ':one': 1, ':now': now }),
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return fromAttributes<{ lastSeq: number }>(out.Attributes!).lastSeq;
  }

  async head(channel: string): Promise<LogHead> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.tables.messages, Key: toAttributes({ channel: headKey(channel), seq: HEAD_SEQ }), ConsistentRead: true }),
    );
    const head = fromAttributes<Partial<LogHead>>(Item);
    return { lastSeq: head?.lastSeq ?? 0, reservedAt: head?.reservedAt ?? 0, ...(head?.firstAt !== undefined && { firstAt: head.firstAt }) };
  }

  putEntry(entry: LogEntry): Promise<boolean> {
    return conditional(
      this.db.send(
        new PutItemCommand({ TableName: this.tables.messages, Item: toAttributes({ ...entry }), ConditionExpression: 'attribute_not_exists(seq)' }),
      ),
    );
  }

  async getEntry(channel: string, seq: number): Promise<LogEntry | null> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.tables.messages, Key: toAttributes({ channel, seq }), ConsistentRead: true }),
    );
    return fromAttributes<LogEntry>(Item);
  }

  async listEntries(channel: string, afterSeq: number, limit: number): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    let start: AttributeMap | undefined;
    // A Query page stops at 1 MB: keep reading until `limit` entries or the end.
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.messages,
          KeyConditionExpression: 'channel = :c AND seq > :after',
          ExpressionAttributeValues: toAttributes({ ':c': channel, ':after': afterSeq }),
          ScanIndexForward: true,
          Limit: limit - entries.length,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      entries.push(...(out.Items ?? []).map((item) => fromAttributes<LogEntry>(item)));
      start = out.LastEvaluatedKey;
    } while (start && entries.length < limit);
    return entries;
  }

  async claim(channel: string, clientKey: string, claim: LogClaim): Promise<LogClaim | null> {
    const key = `${channel}#${clientKey}`;
    const nowSeconds = Math.floor(this.clock() / 1000);
    const item = toAttributes({ key, ...claim, expiresAt: nowSeconds + CLAIM_TTL_SECONDS });
    // Two rounds: an existing claim may expire (TTL) between our put and our get.
    for (let round = 0; round < 2; round++) {
      // An expired claim counts as free (DynamoDB deletes it up to days late): its entry may
      // be past message retention by now, and must not be replayed or have its seq filled.
      const created = await conditional(
        this.db.send(
          new PutItemCommand({
            TableName: this.tables.idempotency,
            Item: item,
            ConditionExpression: 'attribute_not_exists(#k) OR expiresAt <= :now',
            ExpressionAttributeNames: { '#k': 'key' },
            ExpressionAttributeValues: toAttributes({ ':now': nowSeconds }),
          }),
        ),
      );
      if (created) return null;
      const { Item } = await this.db.send(
        new GetItemCommand({ TableName: this.tables.idempotency, Key: toAttributes({ key }), ConsistentRead: true }),
      );
      const stored = fromAttributes<LogClaim & { key: string; expiresAt: number; attempt?: string }>(Item);
      if (stored) {
        const { key: _key, expiresAt: _exp, attempt: _attempt, ...existing } = stored;
        // The SDK retries a put whose response was lost; the retry then fails its
        // condition against our own claim, which we did create.
        if (existing.entryId === claim.entryId && existing.claimedAt === claim.claimedAt) return null;
        return existing;
      }
    }
    throw new Error(`idempotency claim ${key} keeps vanishing; is the table's TTL misconfigured?`);
  }

  recordClaimSeq(channel: string, clientKey: string, claimedAt: number, seq: number, reservedAt: number): Promise<boolean> {
    return this.updateClaim(channel, clientKey, claimedAt, 'SET seq = :seq, reservedAt = :at', { ':seq': seq, ':at': reservedAt });
  }

  async takeOverClaim(channel: string, clientKey: string, expectedClaimedAt: number, claimedAt: number, attempt: string): Promise<boolean> {
    const update = 'SET claimedAt = :new, attempt = :attempt REMOVE seq, reservedAt';
    if (await this.updateClaim(channel, clientKey, expectedClaimedAt, update, { ':new': claimedAt, ':attempt': attempt })) return true;
    // The SDK retries an update whose response was lost; the retry then fails its condition
    // against our own takeover. `attempt` tells ours from another taker's in the same ms.
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.tables.idempotency, Key: toAttributes({ key: `${channel}#${clientKey}` }), ConsistentRead: true }),
    );
    const stored = fromAttributes<{ claimedAt: number; attempt?: string }>(Item);
    return stored?.claimedAt === claimedAt && stored.attempt === attempt;
  }

  /** An update of the claim, made only while its `claimedAt` is still `expectedClaimedAt`. */
  private updateClaim(channel: string, clientKey: string, expectedClaimedAt: number, update: string, values: Record<string, unknown>): Promise<boolean> {
    return conditional(
      this.db.send(
        new UpdateItemCommand({
          TableName: this.tables.idempotency,
          Key: toAttributes({ key: `${channel}#${clientKey}` }),
          UpdateExpression: update,
          ConditionExpression: 'claimedAt = :expected',
          ExpressionAttributeValues: toAttributes({ ...values, ':expected': expectedClaimedAt }),
        }),
      ),
    );
  }
}

/** BatchWriteItem takes at most 25 requests. */
const BATCH_WRITE_LIMIT = 25;
/** How often a batch is resent while DynamoDB leaves some of it unprocessed (throttling), with a growing pause. */
const UNPROCESSED_ATTEMPTS = 8;

const itemKey = (id: string) => `n#${id}`;
const flagKey = (id: string) => `u#${id}`;
const idOf = (sk: string) => sk.slice(2);

/**
 * The inbox: per user (partition `userId`), a notification at `n#{id}` and,
 * while it is unread, a small flag at `u#{id}`. Ids start with their time, so
 * both sort newest last; the unread count is a consistent count of flags.
 */
export class DynamoInboxStore implements InboxStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: Pick<TableNames, 'inbox'>,
  ) {}

  async existing(keys: Array<{ userId: string; id: string }>, now: number): Promise<Set<string>> {
    const found = new Set<string>();
    const items = await this.batchGet(keys.map(({ userId, id }) => ({ userId, sk: itemKey(id) })), 'userId, sk, expiresAt');
    for (const item of items) if (item.expiresAt * 1000 > now) found.add(`${item.userId}\n${idOf(item.sk)}`);
    return found;
  }

  async putItems(items: InboxItem[]): Promise<void> {
    await this.batchWrite(
      items.flatMap((item): WriteRequest[] => [
        { PutRequest: { Item: toAttributes({ ...item, sk: itemKey(item.id) }) } },
        { PutRequest: { Item: toAttributes({ userId: item.userId, sk: flagKey(item.id), expiresAt: item.expiresAt }) } },
      ]),
    );
  }

  async removeItem(userId: string, id: string, seq: number): Promise<void> {
    // The flag goes only with our own item: another attempt's item (other seq) keeps its flag.
    const removed = await conditional(
      this.db.send(
        new DeleteItemCommand({
          TableName: this.tables.inbox,
          Key: toAttributes({ userId, sk: itemKey(id) }),
          ConditionExpression: 'seq = :seq',
          ExpressionAttributeValues: toAttributes({ ':seq': seq }),
        }),
      ),
    );
    if (removed) await this.db.send(new DeleteItemCommand({ TableName: this.tables.inbox, Key: toAttributes({ userId, sk: flagKey(id) }) }));
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
      this.batchGet(ids.map((id) => ({ userId, sk: itemKey(id) }))),
      options.unread ? Promise.resolve(ids.map((id) => ({ sk: flagKey(id) }))) : this.batchGet(ids.map((id) => ({ userId, sk: flagKey(id) })), 'sk'),
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

  async clearAllUnread(userId: string, max: number): Promise<number> {
    let cleared = 0;
    while (cleared < max) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tables.inbox,
          KeyConditionExpression: 'userId = :u AND begins_with(sk, :p)',
          ExpressionAttributeValues: toAttributes({ ':u': userId, ':p': 'u#' }),
          ProjectionExpression: 'userId, sk',
          ConsistentRead: true,
          Limit: Math.min(100, max - cleared),
        }),
      );
      const keys = out.Items ?? [];
      if (keys.length === 0) break;
      await this.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
      cleared += keys.length;
    }
    return cleared;
  }

  async countUnread(userId: string, now: number): Promise<number> {
    let count = 0;
    let start: AttributeMap | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.inbox,
          KeyConditionExpression: 'userId = :u AND begins_with(sk, :p)',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: toAttributes({ ':u': userId, ':p': 'u#', ':now': Math.floor(now / 1000) }),
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  /** BatchGetItem (consistent) in chunks of 100, asking again for unprocessed keys. */
  private async batchGet<T = InboxItem & { sk: string }>(keys: Array<{ userId: string; sk: string }>, projection?: string): Promise<T[]> {
    const chunks: Array<Array<{ userId: string; sk: string }>> = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) chunks.push(keys.slice(i, i + BATCH_GET_LIMIT));
    const pages = await Promise.all(
      chunks.map(async (chunk) => {
        const found: T[] = [];
        let pending: AttributeMap[] | undefined = chunk.map((k) => toAttributes(k));
        for (let attempt = 0; pending?.length; attempt++) {
          if (attempt >= UNPROCESSED_ATTEMPTS) throw new UnprocessedError('BatchGetItem', pending.length);
          if (attempt > 0) await pause(attempt);
          const out: BatchGetItemCommandOutput = await this.db.send(
            new BatchGetItemCommand({
              RequestItems: {
                [this.tables.inbox]: { Keys: pending, ConsistentRead: true, ...(projection && { ProjectionExpression: projection }) },
              },
            }),
          );
          found.push(...(out.Responses?.[this.tables.inbox] ?? []).map((i) => fromAttributes<T>(i)));
          pending = out.UnprocessedKeys?.[this.tables.inbox]?.Keys;
        }
        return found;
      }),
    );
    return pages.flat();
  }

  /** BatchWriteItem in chunks of 25 (all at once), resending unprocessed requests with a growing pause. */
  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    const chunks: WriteRequest[][] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) chunks.push(requests.slice(i, i + BATCH_WRITE_LIMIT));
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending: WriteRequest[] | undefined = chunk;
        for (let attempt = 0; pending?.length; attempt++) {
          if (attempt >= UNPROCESSED_ATTEMPTS) throw new UnprocessedError('BatchWriteItem', pending.length);
          if (attempt > 0) await pause(attempt);
          const out: BatchWriteItemCommandOutput = await this.db.send(new BatchWriteItemCommand({ RequestItems: { [this.tables.inbox]: pending } }));
          pending = out.UnprocessedItems?.[this.tables.inbox];
        }
      }),
    );
  }
}

/** The stored item without its table key. */
function plain(stored: InboxItem & { sk: string }): InboxItem {
  const { sk: _sk, ...item } = stored;
  return item;
}

/** 50, 100, 200 … 1,600 ms (with jitter): DynamoDB's advice for unprocessed batch items. */
const pause = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(50 * 2 ** (attempt - 1), 1600) * (0.5 + Math.random() / 2)));

/** Throttled past every resend: named like the SDK's throttling errors, so the handler answers 503. */
export class UnprocessedError extends Error {
  override readonly name = 'ThrottlingException';
  constructor(action: string, left: number) {
    super(`${action}: ${left} items stayed unprocessed after ${UNPROCESSED_ATTEMPTS} attempts (throttled)`);
  }
}
