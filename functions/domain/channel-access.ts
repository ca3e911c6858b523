/**
 * The functions' side of channel access: the shared policy registry
 * (shared/channel-access.ts, which the relay uses too) over the room store,
 * with a refusal turned into a domain error.
 */
import type { ParsedChannel } from '../../protocol/index.js';
import { decideAccess } from '../../shared/channel-access.js';
import { DomainError } from './errors.js';
import type { RoomStore } from './ports.js';

/**
 * Throws forbidden (or not_found for an unknown room, and with `documents` for an
 * unknown document) unless `userId` may read `channel`.
 */
export async function requireChannelAccess(
  rooms: RoomStore,
  userId: string,
  channel: ParsedChannel,
  documents?: { getDocument(docId: string): Promise<object | null> },
): Promise<void> {
  const decision = await decideAccess(userId, channel, { memberships: rooms, rooms, ...(documents && { documents }) });
  if (!decision.allowed) throw new DomainError(decision.code, decision.message);
}
