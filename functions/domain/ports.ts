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
export type Role = 'owner' | 'admin' | 'member';

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
  /**
   * Up to `limit` of the user's memberships, ordered by room id, starting
   * after `afterRoomId` when given. Reads one page, never the whole list.
   */
  listMemberships(userId: string, page: { limit: number; afterRoomId?: string }): Promise<MembershipPage>;
  /** How many rooms the user belongs to, counting no further than `upTo` (so the cost is bounded). */
  countMemberships(userId: string, upTo: number): Promise<number>;
  /** Whether the room has any member other than `userId`. */
  hasOtherMembers(roomId: string, userId: string): Promise<boolean>;
  /** Returns false when the membership already existed (nothing written). */
  addMember(membership: Membership): Promise<boolean>;
  /** Sets the member's role; returns false when there is no such membership (nothing written). */
  setRole(roomId: string, userId: string, role: Role): Promise<boolean>;
  /**
   * Returns false when there was no such membership, or (with `ifRole`) when its
   * stored role is no longer the one given (`null`: a membership with no stored role).
   */
  removeMember(roomId: string, userId: string, ifRole?: Role | null): Promise<boolean>;
}

/** An idempotency claim for `(roomId, clientMessageId)`: who holds it and which seq it last tried. */
export interface MessageClaim {
  messageId: string;
  userId: string;
  text: string;
  claimedAt: number;
  /** Set once the message was written at this seq (or is being attempted there). */
  seq?: number;
}

export interface MessageStore {
  /**
   * Highest stored seq of the room, 0 when empty. With `hint`, the store may
   * answer from what this process last saw (never higher than the truth, so
   * the conditional put still rules out gaps and duplicates); without it, the
   * answer is a strongly consistent read.
   */
  lastSeq(roomId: string, options?: { hint?: boolean }): Promise<number>;
  /** Writes the message at its seq; returns false if that seq is already taken. */
  putMessageAtSeq(message: ChatMessage): Promise<boolean>;
  getMessage(roomId: string, seq: number): Promise<ChatMessage | null>;
  listMessages(roomId: string, afterSeq: number, limit: number): Promise<ChatMessage[]>;
  /** Creates the claim; returns the existing one instead when the key is taken. */
  claim(roomId: string, clientMessageId: string, claim: MessageClaim): Promise<MessageClaim | null>;
  /** Deletes the claim if it is still ours (same `claimedAt`): a failed send leaves nothing behind. */
  releaseClaim(roomId: string, clientMessageId: string, expectedClaimedAt: number): Promise<void>;
  /** Records the seq being attempted, only while the claim is still ours (same `claimedAt`). */
  updateClaim(roomId: string, clientMessageId: string, expectedClaimedAt: number, patch: Partial<MessageClaim>): Promise<boolean>;
}
