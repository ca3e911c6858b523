/**
 * Ports the domain depends on. Adapters (DynamoDB, ioredis, Upstash, memory)
 * implement them; tests and the local stack pass real ones in.
 */
export type { Publisher } from '../../broker/types.js';

export interface Room {
  roomId: string;
  name: string;
  createdBy: string;
  createdAt: string;
}

/** What a member may do in a room (see functions/domain/roles.ts for the rules). */
import type { Role } from '../../protocol/http.js';
export type { Role };

export interface Membership {
  roomId: string;
  userId: string;
  addedBy: string;
  joinedAt: string;
  /**
   * Absent on memberships written before rooms had roles: those read as
   * `owner` for the room's `createdBy` and `member` for everyone else.
   */
  role?: Role;
}

/** One page of a user's memberships, ordered by room id. */
export interface MembershipPage {
  memberships: Membership[];
  /** Whether more memberships follow the last one of this page. */
  more: boolean;
}

export interface ChatMessage {
  id: string;
  seq: number;
  roomId: string;
  userId: string;
  text: string;
  createdAt: string;
  clientMessageId?: string;
}

export interface RoomStore {
  createRoom(room: Room, owner: Membership): Promise<void>;
  getRoom(roomId: string): Promise<Room | null>;
  getRooms(roomIds: string[]): Promise<Room[]>;
  getMembership(roomId: string, userId: string): Promise<Membership | null>;
  /** Which of `userIds` are members of the room (one batched, strongly consistent read). */
  membersAmong(roomId: string, userIds: readonly string[]): Promise<Set<string>>;
  /**
   * Up to `limit` of the user's memberships, ordered by room id, starting
   * after `afterRoomId` when given. Reads one page, never the whole list.
   */
  listMemberships(userId: string, page: { limit: number; afterRoomId?: string }): Promise<MembershipPage>;
  /**
   * How many rooms the user belongs to (`addedByOthers`: only those someone else
   * put them in), counting no further than `upTo` (so the cost is bounded).
   */
  countMemberships(userId: string, upTo: number, options?: { addedByOthers?: boolean }): Promise<number>;
  /** Whether the room has any member other than `userId`. */
  hasOtherMembers(roomId: string, userId: string): Promise<boolean>;
  /** Returns false when the membership already existed (nothing written). */
  addMember(membership: Membership): Promise<boolean>;
  /** Sets the member's role; returns false when there is no such membership (nothing written). */
  /** Sets the role; with `ifRole`, only while the membership still has that role (null: none stored). False when not. */
  setRole(roomId: string, userId: string, role: Role, ifRole?: Role | null): Promise<boolean>;
  /**
   * Returns false when there was no such membership, or (with `ifRole`) when its
   * stored role is no longer the one given (`null`: a membership with no stored role).
   */
  removeMember(roomId: string, userId: string, ifRole?: Role | null): Promise<boolean>;
}

/**
 * One item of a channel's log: a durable message, or a gap tombstone
 * (`event: "gap"`, see functions/domain/channel-log.ts) at a seq that was
 * reserved but never written.
 */
export interface LogEntry {
  channel: string;
  seq: number;
  id: string;
  event: string;
  /** The payload (JSON); for a room message, the ChatMessage. Null in a tombstone. */
  data: unknown;
  /** Epoch ms, taken after the seq was reserved. */
  ts: number;
  /** With message retention: epoch seconds from which DynamoDB may delete the item (its TTL attribute). */
  expiresAt?: number;
}

/** A channel's sequence counter: the last seq handed out, and when (epoch ms, the reserver's clock). */
export interface LogHead {
  lastSeq: number;
  reservedAt: number;
  /** When the counter was created (its first reservation): no entry of the channel is older. Unknown for counters from before it was kept. */
  firstAt?: number;
}

/** An idempotency claim on `(channel, key)`: which entry it stands for and which seq that entry was given. */
export interface LogClaim {
  entryId: string;
  /** A hash of what was sent: a retry with the same key but other content is a conflict. */
  fingerprint: string;
  claimedAt: number;
  /** The seq reserved for the entry, recorded before the entry is written there. */
  seq?: number;
  /** When `seq` was recorded (epoch ms); the gap bound runs from here. */
  reservedAt?: number;
}

/**
 * The channel log's storage, keyed by channel (`room:…`, `user:…`, `document:…`).
 * Plain reads and writes; every rule about using them lives in the channel log.
 */
export interface ChannelStore {
  /** Atomically hands out the channel's next seq (1, 2, 3, …), recording `now` as its reservation time (and, the first time, as `firstAt`). The counter never expires. */
  reserveSeq(channel: string, now: number): Promise<number>;
  /** The channel's counter; `{lastSeq: 0, reservedAt: 0}` for a channel never written. */
  head(channel: string): Promise<LogHead>;
  /** Writes the entry at its seq unless that seq already holds an item; false when it does. */
  putEntry(entry: LogEntry): Promise<boolean>;
  getEntry(channel: string, seq: number): Promise<LogEntry | null>;
  /** The entries stored at these (channel, seq) positions, in any order; empty positions are left out (batched, strongly consistent). */
  getEntries(keys: ReadonlyArray<{ channel: string; seq: number }>): Promise<LogEntry[]>;
  /** Up to `limit` entries with `seq > afterSeq`, ascending (strongly consistent). */
  listEntries(channel: string, afterSeq: number, limit: number): Promise<LogEntry[]>;
  /** Creates the claim; returns the existing one instead when the key is taken (an expired claim counts as free). */
  claim(channel: string, key: string, claim: LogClaim): Promise<LogClaim | null>;
  /** Records the reserved seq on the claim, only while it is still ours (same `claimedAt`). */
  recordClaimSeq(channel: string, key: string, claimedAt: number, seq: number, reservedAt: number): Promise<boolean>;
  /**
   * Takes a claim over (new `claimedAt`, no seq), only if it is still the one read (same `claimedAt`).
   * `attempt` (unique per call) lets a lost response be recognized: true when the claim holds our `claimedAt` and `attempt`.
   */
  takeOverClaim(channel: string, key: string, expectedClaimedAt: number, claimedAt: number, attempt: string): Promise<boolean>;
}

/** A notification as the inbox stores it (functions/domain/inbox.ts); `read` is derived from the unread flag. */
export interface InboxItem {
  userId: string;
  id: string;
  type: string;
  title: string;
  body: string;
  data?: unknown;
  /** Epoch ms. */
  createdAt: number;
  /** Its seq on `user:{userId}`. */
  seq: number;
  /** Epoch seconds from which it no longer counts (DynamoDB's TTL deletes it some time after). */
  expiresAt: number;
}

/** A page of a user's inbox, newest first. */
export interface InboxPage {
  items: Array<InboxItem & { read: boolean }>;
  /** The id to continue after; absent at the end. */
  after?: string;
}

/**
 * Each user's inbox: notification items, and an unread flag per unread
 * notification (so the unread count is a count of flags, never a counter that
 * could drift). Every method ignores items whose `expiresAt` has passed, as if
 * DynamoDB had already deleted them.
 */
export interface InboxStore {
  /**
   * Which of these (userId, id) notifications have an inbox item (any read state, not
   * expired), and at which seq of `user:{userId}`; keyed `{userId}\n{id}`.
   */
  storedSeqs(keys: ReadonlyArray<{ userId: string; id: string }>, now: number): Promise<Map<string, number>>;
  /** Stores the items, each with its unread flag raised (the flag carries the item's seq; batched; overwrites an item of the same id). */
  putItems(items: InboxItem[]): Promise<void>;
  /** Takes back a write that did not complete: the item and the flag, each only while it is still at `seq` (another attempt's stay). */
  removeItem(userId: string, id: string, seq: number): Promise<void>;
  getItem(userId: string, id: string, now: number): Promise<(InboxItem & { read: boolean }) | null>;
  /** Newest first, after `after` (an id); `unread` lists only unread ones. */
  list(userId: string, options: { limit: number; after?: string; unread: boolean; now: number }): Promise<InboxPage>;
  /** Lowers one flag; true when it was raised (the item went from unread to read). */
  clearUnread(userId: string, id: string): Promise<boolean>;
  /**
   * One round of read-all: deletes up to `limit` raised flags, oldest first, and returns how
   * many of them were unexpired (`cleared`: expired ones are deleted too, uncounted); `more`:
   * flags may remain.
   */
  clearSomeUnread(userId: string, limit: number, now: number): Promise<{ cleared: number; more: boolean }>;
  /** The number of raised, unexpired flags, counted no further than `upTo`: read consistently, so exact (below `upTo`) at the time of the read. */
  countUnread(userId: string, now: number, upTo: number): Promise<number>;
}
