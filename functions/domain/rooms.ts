/**
 * Rooms and memberships. Any member may invite; a member may leave, and the
 * room's creator may remove anyone. Removal publishes a revoke envelope so
 * every relay drops the removed user's live subscriptions at once.
 */
import { encodeEnvelope, ENVELOPE_VERSION, roomChannel } from '../../protocol/index.js';
import { forbidden, notFound } from './errors.js';
import { newRoomId } from './ids.js';
import type { Membership, Publisher, Room, RoomStore } from './ports.js';

export interface RoomDeps {
  rooms: RoomStore;
  publisher: Publisher;
  now?: () => Date;
}
/** What the routes that only touch the store need. */
export type RoomStoreDeps = Omit<RoomDeps, 'publisher'>;

export async function createRoom(deps: RoomStoreDeps, userId: string, name: string): Promise<Room> {
  const createdAt = (deps.now?.() ?? new Date()).toISOString();
  const room: Room = { roomId: newRoomId(), name, createdBy: userId, createdAt };
  await deps.rooms.createRoom(room, { roomId: room.roomId, userId, addedBy: userId, joinedAt: createdAt });
  return room;
}

export interface RoomSummary extends Room {
  joinedAt: string;
}

export async function listRooms(deps: RoomStoreDeps, userId: string): Promise<RoomSummary[]> {
  const memberships = await deps.rooms.listMemberships(userId);
  const rooms = await deps.rooms.getRooms(memberships.map((m) => m.roomId));
  const byId = new Map(rooms.map((r) => [r.roomId, r]));
  return memberships.flatMap((m) => {
    const room = byId.get(m.roomId);
    return room ? [{ ...room, joinedAt: m.joinedAt }] : [];
  });
}

/** Throws `not_found` for an unknown room and `forbidden` when the user is not a member. */
export async function requireMember(rooms: RoomStore, roomId: string, userId: string): Promise<Membership> {
  const membership = await rooms.getMembership(roomId, userId);
  if (membership) return membership;
  // Only the failure path pays for telling "no such room" from "not yours".
  if (!(await rooms.getRoom(roomId))) throw notFound(`Room ${roomId} does not exist`);
  throw forbidden(`You are not a member of room ${roomId}`);
}

export async function addMember(
  deps: RoomStoreDeps,
  actorId: string,
  roomId: string,
  userId: string,
): Promise<{ membership: Membership; created: boolean }> {
  await requireMember(deps.rooms, roomId, actorId);
  const membership: Membership = {
    roomId,
    userId,
    addedBy: actorId,
    joinedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  const created = await deps.rooms.addMember(membership);
  if (created) return { membership, created };
  return { membership: (await deps.rooms.getMembership(roomId, userId)) ?? membership, created };
}

export async function removeMember(deps: RoomDeps, actorId: string, roomId: string, userId: string): Promise<void> {
  const room = await deps.rooms.getRoom(roomId);
  if (!room) throw notFound(`Room ${roomId} does not exist`);
  const actorIsMember = (await deps.rooms.getMembership(roomId, actorId)) !== null;
  if (!actorIsMember) throw forbidden(`You are not a member of room ${roomId}`);
  if (actorId !== userId && room.createdBy !== actorId) {
    throw forbidden('Only the room creator can remove other members; members can remove themselves');
  }
  if (!(await deps.rooms.removeMember(roomId, userId))) {
    throw notFound(`User ${userId} is not a member of room ${roomId}`);
  }
  // Persisted first; now tell the relays to cut live delivery to that user.
  await deps.publisher.publish(
    roomChannel(roomId),
    encodeEnvelope({ v: ENVELOPE_VERSION, kind: 'revoke', channel: roomChannel(roomId), userId }),
  );
}
