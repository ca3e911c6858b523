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
import { encodeEnvelope, ENVELOPE_VERSION, ID_PATTERN, roomChannel } from '../../protocol/index.js';
import { withTimeout } from '../../shared/with-timeout.js';
import { checkDisplayName } from './display-name.js';
import { badRequest, conflict, forbidden, limitExceeded, notFound } from './errors.js';
import { newRoomId } from './ids.js';
import type { Membership, Publisher, Role, Room, RoomStore } from './ports.js';
import { addRefusal, removeDecision, roleChange, roleOf, type AddableRole } from './roles.js';

/** Rooms one user may belong to (created or added to by others). */
export const MAX_ROOMS_PER_USER = 1000;
/** Of those, rooms others may add the user to. */
export const MAX_ROOMS_ADDED_BY_OTHERS = 500;
// The HTTP contract (protocol/http.ts) owns these limits; the domain enforces them.
export { MAX_ROOM_NAME_LENGTH, ROOMS_PAGE_DEFAULT_LIMIT, ROOMS_PAGE_MAX_LIMIT } from '../../protocol/http.js';
import { MAX_ROOM_NAME_LENGTH, ROOMS_PAGE_DEFAULT_LIMIT } from '../../protocol/http.js';

/**
 * Revoke publishing: attempts, each bounded, with a pause between. The worst
 * case (3 × 1 s + 0.1 s + 0.3 s = 3.4 s) stays well inside the function's 10 s.
 */
export const REVOKE_ATTEMPTS = 3;
export const REVOKE_ATTEMPT_TIMEOUT_MS = 1000;
export const REVOKE_RETRY_DELAYS_MS = [100, 300] as const;

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
export type MemberView = Membership & { role: Role };

const view = (membership: Membership, room: Pick<Room, 'createdBy'>): MemberView => ({ ...membership, role: roleOf(membership, room) });
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

/** The room, the actor's membership and the target's (null when not a member), read together. */
async function readParties(rooms: RoomStore, roomId: string, actorId: string, targetId: string) {
  const [room, actor, target] = await Promise.all([
    rooms.getRoom(roomId),
    rooms.getMembership(roomId, actorId),
    actorId === targetId ? null : rooms.getMembership(roomId, targetId),
  ]);
  if (!room) throw notFound(`Room ${roomId} does not exist`);
  if (!actor) throw forbidden(`You are not a member of room ${roomId}`);
  return { room, actor, actorRole: roleOf(actor, room), target: actorId === targetId ? actor : target };
}

/**
 * Adds `userId` as `role` (default member). Owner and admins may add; only the
 * owner may add an admin. Adding someone who already is a member changes
 * nothing and returns their membership (`created: false`).
 */
export async function addMember(
  deps: RoomStoreDeps,
  actorId: string,
  roomId: string,
  userId: string,
  role: AddableRole = 'member',
): Promise<{ membership: MemberView; created: boolean }> {
  const { room, actorRole, target } = await readParties(deps.rooms, roomId, actorId, userId);
  const refusal = addRefusal(actorRole, role);
  if (refusal) throw forbidden(refusal);
  if (target) return { membership: view(target, room), created: false };
  await requireRoomToSpare(deps, userId, true);
  const membership: Membership = { roomId, userId, addedBy: actorId, joinedAt: nowIso(deps), role };
  if (await deps.rooms.addMember(membership)) return { membership: view(membership, room), created: true };
  // Added meanwhile by someone else: theirs stands.
  const existing = await deps.rooms.getMembership(roomId, userId);
  return { membership: view(existing ?? membership, room), created: false };
}

/**
 * Sets a member's role. Only the owner changes roles. Setting another
 * member's role to `owner` transfers ownership: the target becomes owner
 * first, then the previous owner becomes admin, so a crash between the two
 * writes leaves two owners (either can finish the job), never none.
 */
export async function changeRole(
  deps: RoomStoreDeps,
  actorId: string,
  roomId: string,
  userId: string,
  role: Role,
): Promise<MemberView> {
  const { room, actor, actorRole, target } = await readParties(deps.rooms, roomId, actorId, userId);
  if (!target) throw notFound(`User ${userId} is not a member of room ${roomId}`);
  const change = roleChange(actorRole, role, actorId === userId);
  switch (change.kind) {
    case 'refused':
      throw change.code === 'forbidden' ? forbidden(change.reason) : conflict(change.reason);
    case 'none':
      return view(target, room);
    case 'set':
    case 'transfer':
      // Each write holds only while the role it was decided on still holds, so two
      // owners' requests racing cannot leave the room with none.
      if (!(await deps.rooms.setRole(roomId, userId, role, target.role ?? null))) await roleChangedMeanwhile(deps.rooms, roomId, userId);
      if (change.kind === 'transfer' && !(await deps.rooms.setRole(roomId, actorId, 'admin', actor.role ?? null))) {
        // Our own role changed meanwhile (another transfer): the target is an owner now; we stay what we became.
        throw conflict('Your role changed while ownership was being transferred; both of you may be owners now. Check the members and retry');
      }
      return { ...target, role };
  }
}

/** After a conditional write on a membership failed: 409 if it is still there (its role changed), else 404. */
async function roleChangedMeanwhile(rooms: RoomStore, roomId: string, userId: string): Promise<never> {
  if (await rooms.getMembership(roomId, userId)) throw conflict(`The role of ${userId} changed meanwhile; retry the request`);
  throw notFound(`User ${userId} is not a member of room ${roomId}`);
}

/**
 * Removes `userId`. Anyone may leave, except the owner while others remain
 * (`conflict`: transfer ownership first); the owner may remove anyone; an
 * admin may remove members. Stored first, then a revoke is published.
 */
export async function removeMember(deps: RoomDeps, actorId: string, roomId: string, userId: string): Promise<void> {
  const { room, actorRole, target } = await readParties(deps.rooms, roomId, actorId, userId);
  if (!target) throw notFound(`User ${userId} is not a member of room ${roomId}`);
  const decision = removeDecision(actorRole, roleOf(target, room), actorId === userId);
  if (decision.allowed === false) throw forbidden(decision.reason);
  if (decision.allowed === 'if-alone' && (await deps.rooms.hasOtherMembers(roomId, userId))) {
    throw conflict('The owner cannot leave while other members remain; transfer ownership first (PATCH a member’s role to owner)');
  }
  // Only if the role the decision was made on still holds: a member being promoted
  // (to owner by a transfer, say) meanwhile is not removed on the strength of the old role.
  if (!(await deps.rooms.removeMember(roomId, userId, target.role ?? null))) await roleChangedMeanwhile(deps.rooms, roomId, userId);
  // Persisted first; now tell the relays to cut live delivery to that user. The removal
  // stands either way: a revoke that never arrives is caught by the relays' re-check.
  await publishRevoke(deps, roomId, userId);
}

/** Publishes the revoke, retrying a failed or slow attempt; reports (never throws) a final failure. */
async function publishRevoke(deps: RoomDeps, roomId: string, userId: string): Promise<void> {
  const channel = roomChannel(roomId);
  const payload = encodeEnvelope({ v: ENVELOPE_VERSION, kind: 'revoke', channel, userId });
  const delays = deps.revokeRetryDelaysMs ?? REVOKE_RETRY_DELAYS_MS;
  const timeoutMs = deps.revokeAttemptTimeoutMs ?? REVOKE_ATTEMPT_TIMEOUT_MS;
  let lastError: unknown;
  let attempts = 0;
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, delays[attempt - 1]));
    const budget = Math.min(timeoutMs, (deps.deadline ?? Infinity) - Date.now() - 300);
    if (budget <= 0) break;
    attempts++;
    try {
      await withTimeout(deps.publisher.publish(channel, payload), budget, `revoke publish to ${channel} took longer than ${budget} ms`);
      return;
    } catch (err) {
      lastError = err;
    }
  }
  deps.onRevokeFailed?.(lastError ?? new Error('no time left to publish the revoke'), { roomId, userId, attempts });
}
