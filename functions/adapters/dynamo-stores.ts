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
import type { ChatMessage, Membership, MembershipPage, MessageClaim, MessageStore, Role, Room, RoomStore } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from './dynamo-items.js';
import { MEMBERSHIPS_BY_USER_INDEX } from './table-schemas.js';

export interface TableNames {
  rooms: string;
  memberships: string;
  messages: string;
  idempotency: string;
}

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
/** Rooms whose last seq a process remembers (bounded memory in a long-lived container). */
const SEQ_HINT_ROOMS = 10_000;
/** How long an idempotency claim is kept: retries later than this create a new message. */
const CLAIM_TTL_SECONDS = 24 * 60 * 60;

/** Read-only membership lookups: all the relay needs (and all its IAM role allows). */
export class DynamoMembershipReader {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly membershipsTable: string,
  ) {}

  async getMembership(roomId: string, userId: string): Promise<Membership | null> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.membershipsTable, Key: toAttributes({ roomId, userId }), ConsistentRead: true }),
    );
    return fromAttributes<Membership>(Item);
  }
}

export class DynamoRoomStore implements RoomStore {
  private readonly memberships: DynamoMembershipReader;

  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: Pick<TableNames, 'rooms' | 'memberships'>,
  ) {
    this.memberships = new DynamoMembershipReader(db, tables.memberships);
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

  async countMemberships(userId: string, upTo: number): Promise<number> {
    let count = 0;
    if (upTo <= 0) return 0;
    let start: AttributeMap | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.memberships,
          IndexName: MEMBERSHIPS_BY_USER_INDEX,
          KeyConditionExpression: 'userId = :u',
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

  setRole(roomId: string, userId: string, role: Role): Promise<boolean> {
    return conditional(
      this.db.send(
        new UpdateItemCommand({
          TableName: this.tables.memberships,
          Key: toAttributes({ roomId, userId }),
          UpdateExpression: 'SET #role = :role',
          ConditionExpression: 'attribute_exists(userId)',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: toAttributes({ ':role': role }),
        }),
      ),
    );
  }

  removeMember(roomId: string, userId: string, ifRole?: Role | null): Promise<boolean> {
    let condition: Pick<DeleteItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> = {
      ConditionExpression: 'attribute_exists(userId)',
    };
    if (ifRole === null) {
      condition = { ConditionExpression: 'attribute_exists(userId) AND attribute_not_exists(#role)', ExpressionAttributeNames: { '#role': 'role' } };
    } else if (ifRole !== undefined) {
      condition = {
        ConditionExpression: '#role = :role',
        ExpressionAttributeNames: { '#role': 'role' },
        ExpressionAttributeValues: toAttributes({ ':role': ifRole }),
      };
    }
    return conditional(
      this.db.send(new DeleteItemCommand({ TableName: this.tables.memberships, Key: toAttributes({ roomId, userId }), ...condition })),
    );
  }
}

export class DynamoMessageStore implements MessageStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: Pick<TableNames, 'messages' | 'idempotency'>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The highest seq this process wrote or read per room: a lower bound of the truth. */
  private readonly seqHints = new Map<string, number>();

  async lastSeq(roomId: string, options: { hint?: boolean } = {}): Promise<number> {
    const hinted = options.hint ? this.seqHints.get(roomId) : undefined;
    if (hinted !== undefined) return hinted;
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tables.messages,
        KeyConditionExpression: 'roomId = :r',
        ExpressionAttributeValues: toAttributes({ ':r': roomId }),
        ProjectionExpression: 'seq',
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const seq = fromAttributes<{ seq: number }>(out.Items?.[0])?.seq ?? 0;
    this.remember(roomId, seq);
    return seq;
  }

  async putMessageAtSeq(message: ChatMessage): Promise<boolean> {
    let stored = await conditional(
      this.db.send(
        new PutItemCommand({ TableName: this.tables.messages, Item: toAttributes({ ...message }), ConditionExpression: 'attribute_not_exists(seq)' }),
      ),
    );
    // The SDK retries a write whose response was lost; the retry then fails its condition
    // against our own item. Only another message at this seq means the seq was taken.
    if (!stored) stored = (await this.getMessage(message.roomId, message.seq))?.id === message.id;
    if (stored) this.remember(message.roomId, message.seq);
    return stored;
  }

  private remember(roomId: string, seq: number): void {
    if (seq <= (this.seqHints.get(roomId) ?? 0)) return;
    this.seqHints.delete(roomId); // re-insert: Map order doubles as recency
    this.seqHints.set(roomId, seq);
    if (this.seqHints.size > SEQ_HINT_ROOMS) this.seqHints.delete(this.seqHints.keys().next().value!);
  }

  async getMessage(roomId: string, seq: number): Promise<ChatMessage | null> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.tables.messages, Key: toAttributes({ roomId, seq }), ConsistentRead: true }),
    );
    return fromAttributes<ChatMessage>(Item);
  }

  async listMessages(roomId: string, afterSeq: number, limit: number): Promise<ChatMessage[]> {
    const messages: ChatMessage[] = [];
    let start: AttributeMap | undefined;
    // A Query page stops at 1 MB: keep reading until `limit` messages or the end.
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.messages,
          KeyConditionExpression: 'roomId = :r AND seq > :after',
          ExpressionAttributeValues: toAttributes({ ':r': roomId, ':after': afterSeq }),
          ScanIndexForward: true,
          Limit: limit - messages.length,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      messages.push(...(out.Items ?? []).map((item) => fromAttributes<ChatMessage>(item)));
      start = out.LastEvaluatedKey;
    } while (start && messages.length < limit);
    return messages;
  }

  async claim(roomId: string, clientKey: string, claim: MessageClaim): Promise<MessageClaim | null> {
    const key = `${roomId}#${clientKey}`;
    const item = toAttributes({ key, ...claim, expiresAt: Math.floor(this.clock() / 1000) + CLAIM_TTL_SECONDS });
    // Two rounds: an existing claim may expire (TTL) between our put and our get.
    for (let round = 0; round < 2; round++) {
      const created = await conditional(
        this.db.send(
          new PutItemCommand({
            TableName: this.tables.idempotency,
            Item: item,
            ConditionExpression: 'attribute_not_exists(#k)',
            ExpressionAttributeNames: { '#k': 'key' },
          }),
        ),
      );
      if (created) return null;
      const { Item } = await this.db.send(
        new GetItemCommand({ TableName: this.tables.idempotency, Key: toAttributes({ key }), ConsistentRead: true }),
      );
      const stored = fromAttributes<MessageClaim & { key: string; expiresAt: number }>(Item);
      if (stored) {
        const { key: _key, expiresAt: _exp, ...existing } = stored;
        // The SDK retries a put whose response was lost; the retry then fails its
        // condition against our own claim, which we did create.
        if (existing.messageId === claim.messageId && existing.claimedAt === claim.claimedAt) return null;
        return existing;
      }
    }
    throw new Error(`idempotency claim ${key} keeps vanishing; is the table's TTL misconfigured?`);
  }

  async releaseClaim(roomId: string, clientKey: string, expectedClaimedAt: number): Promise<void> {
    await conditional(
      this.db.send(
        new DeleteItemCommand({
          TableName: this.tables.idempotency,
          Key: toAttributes({ key: `${roomId}#${clientKey}` }),
          ConditionExpression: '#claimedAt = :expected',
          ExpressionAttributeNames: { '#claimedAt': 'claimedAt' },
          ExpressionAttributeValues: toAttributes({ ':expected': expectedClaimedAt }),
        }),
      ),
    );
  }

  updateClaim(
    roomId: string,
    clientKey: string,
    expectedClaimedAt: number,
    patch: Partial<MessageClaim>,
  ): Promise<boolean> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    const names = Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k]));
    const values = Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v]));
    return conditional(
      this.db.send(
        new UpdateItemCommand({
          TableName: this.tables.idempotency,
          Key: toAttributes({ key: `${roomId}#${clientKey}` }),
          UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
          ConditionExpression: '#claimedAt = :expected',
          ExpressionAttributeNames: { ...names, '#claimedAt': 'claimedAt' },
          ExpressionAttributeValues: toAttributes({ ...values, ':expected': expectedClaimedAt }),
        }),
      ),
    );
  }
}
