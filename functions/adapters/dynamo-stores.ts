/**
 * DynamoDB implementations of the domain's stores. Conditional-check failures
 * become domain answers (false / existing item), never leaked exceptions.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { ChannelStore, LogClaim, LogEntry, LogHead, Membership, MembershipPage, Role, Room, RoomStore } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';
import { ROOM_GROUP_FLOOR } from '../../shared/member-groups.js';
import { DynamoMembershipReader } from '../../shared/membership-reader.js';
import type { TableNames } from '../../shared/tables.js';
import { batchGet } from './dynamo-batch.js';
import { countUserGroups, listUserGroups, type GroupRange } from './dynamo-user-groups.js';

const isConditionFailure = (err: unknown) =>
  err instanceof Error && err.name === 'ConditionalCheckFailedException';

/** Runs a conditional write; resolves false when its condition did not hold. */
export async function conditional(write: Promise<unknown>): Promise<boolean> {
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
/** Rooms on the byUser index: document collaborations sort below ROOM_GROUP_FLOOR (shared/member-groups.ts). */
const ROOMS: GroupRange = { condition: 'roomId >= :rooms', values: { ':rooms': ROOM_GROUP_FLOOR } };
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

  async membersAmong(roomId: string, userIds: readonly string[]): Promise<Set<string>> {
    const found = await batchGet<{ userId: string }>(this.db, this.tables.memberships, userIds.map((userId) => ({ roomId, userId })), 'userId');
    return new Set(found.map((m) => m.userId));
  }

  listMemberships(userId: string, page: { limit: number; afterRoomId?: string }): Promise<MembershipPage> {
    return listUserGroups(this.db, this.tables.memberships, userId, ROOMS, { limit: page.limit, afterGroupId: page.afterRoomId });
  }

  countMemberships(userId: string, upTo: number, options: { addedByOthers?: boolean } = {}): Promise<number> {
    return countUserGroups(this.db, this.tables.memberships, userId, ROOMS, upTo, options);
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

  getEntries(keys: ReadonlyArray<{ channel: string; seq: number }>): Promise<LogEntry[]> {
    return batchGet<LogEntry>(this.db, this.tables.messages, keys.map(({ channel, seq }) => ({ channel, seq })));
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
