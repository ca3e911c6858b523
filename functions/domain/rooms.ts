/**
 * Rooms and memberships, with owner / admin / member roles (the rules are in
 * roles.ts). Removal publishes a revoke envelope so every relay drops the
 * removed user's live subscriptions at once; a failed publish is retried a
 * few times, and the relays' periodic access re-check is the backstop.
 *
 * How many rooms one user belongs to is capped (`maxRoomsPerUser`), and of
 * those, how many others may put them in (`maxRoomsAddedByOthers`, lower): so
 * nobody can be put into rooms without bound, and others filling a user's
 * slots can never stop that user from creating rooms of their own. The counts
 * are read before the write, from an eventually consistent index, so
 * concurrent adds of one user can overshoot a cap by at most their number.
 */
import { ID_PATTERN, roomChannel } from '../../protocol/index.js';
import { checkDisplayName } from './display-name.js';
import { badRequest, limitExceeded } from './errors.js';
import { newRoomId } from './ids.js';
import * as members from './member-groups.js';
import type { Group } from './member-groups.js';
import type { Publisher, Role, Room, RoomStore } from './ports.js';
import { roleOf, type AddableRole } from './roles.js';

/** Rooms one user may belong to (created or added to by others). */
export const MAX_ROOMS_PER_USER = 1000;
/** Of those, rooms others may add the user to. */
export const MAX_ROOMS_ADDED_BY_OTHERS = 500;
// The HTTP contract (protocol/http.ts) owns these limits; the domain enforces them.
export { MAX_ROOM_NAME_LENGTH, ROOMS_PAGE_DEFAULT_LIMIT, ROOMS_PAGE_MAX_LIMIT } from '../../protocol/http.js';
import { MAX_ROOM_NAME_LENGTH, ROOMS_PAGE_DEFAULT_LIMIT } from '../../protocol/http.js';

// Revoke publishing is the membership rules' (member-groups.ts), shared with documents.
export { REVOKE_ATTEMPT_TIMEOUT_MS, REVOKE_ATTEMPTS, REVOKE_RETRY_DELAYS_MS } from './member-groups.js';

export interface RoomDeps {
  rooms: RoomStore;
  /** A publisher whose failures reject (they are retried here). */
  publisher: Publisher;
  /** Told when a revoke could not be published after every attempt (the membership is removed regardless). */
  onRevokeFailed?: (error: unknown, revoke: { roomId: string; userId: string; attempts: number }) => void;
  /** @default REVOKE_ATTEMPT_TIMEOUT_MS */
  revokeAttemptTimeoutMs?: number;
  /** Pauses before the 2nd, 3rd… attempt; their count + 1 is the number of attempts. @default REVOKE_RETRY_DELAYS_MS */
  revokeRetryDelaysMs?: readonly number[];
  /** When the answer is due (epoch ms): no revoke attempt runs past it (the removal is stored; the re-check is the backstop). */
  deadline?: number;
  now?: () => Date;
  /** @default MAX_ROOMS_PER_USER */
  maxRoomsPerUser?: number;
  /** @default MAX_ROOMS_ADDED_BY_OTHERS */
  maxRoomsAddedByOthers?: number;
}
/** What the routes that only touch the store need. */
export type RoomStoreDeps = Omit<RoomDeps, 'publisher'>;

/** A membership as the API returns it: always with its (possibly inferred) role. */
export type MemberView = members.MemberView;

const nowIso = (deps: RoomStoreDeps) => (deps.now?.() ?? new Date()).toISOString();

/** Normalizes the name (NFC, trimmed) or throws `bad_request` saying what is wrong with it. */
export function roomName(raw: string): string {
  const checked = checkDisplayName(raw, MAX_ROOM_NAME_LENGTH);
  if (!checked.ok) throw badRequest(`body.name: the room name ${checked.problem}`);
  return checked.value;
}

export async function createRoom(deps: RoomStoreDeps, userId: string, name: string): Promise<Room> {
  const cleanName = roomName(name);
  await requireRoomToSpare(deps, userId, false);
  const createdAt = nowIso(deps);
  const room: Room = { roomId: newRoomId(), name: cleanName, createdBy: userId, createdAt };
  await deps.rooms.createRoom(room, { roomId: room.roomId, userId, addedBy: userId, joinedAt: createdAt, role: 'owner' });
  return room;
}

/**
 * Throws `limit_exceeded` when the user already belongs to the maximum number of
 * rooms, or (`byOther`) has been put into the maximum number by others.
 */
async function requireRoomToSpare(deps: RoomStoreDeps, userId: string, byOther: boolean): Promise<void> {
  const subject = byOther ? `User ${userId} already belongs` : 'You already belong';
  const max = deps.maxRoomsPerUser ?? MAX_ROOMS_PER_USER;
  if ((await deps.rooms.countMemberships(userId, max)) >= max) {
    throw limitExceeded(`${subject} to ${max} rooms, the most one user may be in; a room must be left first`);
  }
  if (!byOther) return;
  const maxByOthers = deps.maxRoomsAddedByOthers ?? MAX_ROOMS_ADDED_BY_OTHERS;
  if ((await deps.rooms.countMemberships(userId, maxByOthers, { addedByOthers: true })) >= maxByOthers) {
    throw limitExceeded(`User ${userId} was already added to ${maxByOthers} rooms by others, the most allowed; they must leave one first`);
  }
}

export interface RoomSummary extends Room {
  joinedAt: string;
  role: Role;
}

export interface RoomsPage {
  rooms: RoomSummary[];
  /** Pass as `cursor` for the next page; null when this page reached the end. */
  nextCursor: string | null;
}

/**
 * One page of the caller's rooms, ordered by room id. A page can hold fewer
 * than `limit` rooms (a membership whose room is gone is skipped); only a null
 * `nextCursor` means the end.
 */
export async function listRooms(
  deps: RoomStoreDeps,
  userId: string,
  page: { limit?: number; cursor?: string } = {},
): Promise<RoomsPage> {
  const limit = page.limit ?? ROOMS_PAGE_DEFAULT_LIMIT;
  const afterRoomId = page.cursor === undefined ? undefined : decodeRoomsCursor(page.cursor, userId);
  const { memberships, more } = await deps.rooms.listMemberships(userId, { limit, ...(afterRoomId && { afterRoomId }) });
  const rooms = await deps.rooms.getRooms(memberships.map((m) => m.roomId));
  const byId = new Map(rooms.map((r) => [r.roomId, r]));
  const last = memberships.at(-1);
  return {
    rooms: memberships.flatMap((m) => {
      const room = byId.get(m.roomId);
      return room ? [{ ...room, joinedAt: m.joinedAt, role: roleOf(m, room) }] : [];
    }),
    nextCursor: more && last ? encodeRoomsCursor(userId, last.roomId) : null,
  };
}

/**
 * Cursors are opaque to clients: base64url of `{"u": userId, "r": lastRoomId}`.
 * The user id is checked so that a cursor from another caller's listing is
 * refused rather than silently giving a wrong page.
 */
export const encodeRoomsCursor = (userId: string, roomId: string): string =>
  Buffer.from(JSON.stringify({ u: userId, r: roomId })).toString('base64url');

const CURSOR_PATTERN = /^[A-Za-z0-9_-]{1,400}$/;

function decodeRoomsCursor(cursor: string, userId: string): string {
  const refuse = () => badRequest('query.cursor: not a cursor from this caller’s GET /rooms; omit it to start from the first page');
  if (!CURSOR_PATTERN.test(cursor)) throw refuse();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  const { u, r } = (value ?? {}) as { u?: unknown; r?: unknown };
  if (u !== userId || typeof r !== 'string' || !ID_PATTERN.test(r)) throw refuse();
  return r;
}

/** The membership rules' view of one room. */
function roomGroup(deps: RoomStoreDeps, roomId: string): Group {
  return {
    noun: 'room',
    id: roomId,
    groupId: roomId,
    channel: roomChannel(roomId),
    load: () => deps.rooms.getRoom(roomId),
    requireSpace: (userId, byOther) => requireRoomToSpare(deps, userId, byOther),
  };
}

/**
 * Adds `userId` as `role` (default member). Owner and admins may add; only the
 * owner may add an admin. Adding someone who already is a member changes
 * nothing and returns their membership (`created: false`).
 */
export const addMember = (
  deps: RoomStoreDeps,
  actorId: string,
  roomId: string,
  userId: string,
  role: AddableRole = 'member',
): Promise<{ membership: MemberView; created: boolean }> => members.addMember(deps, roomGroup(deps, roomId), actorId, userId, role);

/**
 * Sets a member's role. Only the owner changes roles; `owner` on another member
 * transfers ownership (two writes, see member-groups.ts).
 */
export const changeRole = (deps: RoomStoreDeps, actorId: string, roomId: string, userId: string, role: Role): Promise<MemberView> =>
  members.changeRole(deps, roomGroup(deps, roomId), actorId, userId, role);

/**
 * Removes `userId`. Anyone may leave, except the owner while others remain
 * (`conflict`: transfer ownership first); the owner may remove anyone; an
 * admin may remove members. Stored first, then a revoke is published.
 */
export async function removeMember(deps: RoomDeps, actorId: string, roomId: string, userId: string): Promise<void> {
  const { onRevokeFailed } = deps;
  await members.removeMember(
    { ...deps, onRevokeFailed: onRevokeFailed && ((error, revoke) => onRevokeFailed(error, { roomId, userId: revoke.userId, attempts: revoke.attempts })) },
    roomGroup(deps, roomId),
    actorId,
    userId,
  );
}
