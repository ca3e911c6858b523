/**
 * History of any durable channel the caller may read: the one read a client
 * uses to fill a gap it noticed in a channel's `seq`. Who may read is decided
 * per channel kind (room: its members; user: that user only; document: no one
 * yet, documents are not built).
 */
import { parseChannel, type ParsedChannel } from '../../protocol/index.js';
import { read, type ChannelLogDeps } from './channel-log.js';
import { badRequest, forbidden } from './errors.js';
import type { RoomStore } from './ports.js';
import { requireMember } from './rooms.js';

/** One history item: the fields of the live `message` frame, minus the channel. */
export interface ChannelMessage {
  seq: number;
  id: string;
  /** `gap` for a tombstone: a seq that holds no message (skip it; it is never reused). */
  event: string;
  data: unknown;
  ts: number;
}

export interface ChannelHistoryPage {
  messages: ChannelMessage[];
  /** Pass as `afterSeq` to get the next page; null when this page reached the end. */
  nextAfterSeq: number | null;
}

export type ChannelHistoryDeps = Pick<ChannelLogDeps, 'channels' | 'now' | 'gapHealAfterMs'> & { rooms: RoomStore };

export async function listChannelMessages(
  deps: ChannelHistoryDeps,
  input: { channel: string; userId: string; afterSeq: number; limit: number },
): Promise<ChannelHistoryPage> {
  const parsed = parseChannel(input.channel);
  if (!parsed) throw badRequest('path.channel: must be room:{roomId}, user:{userId} or document:{docId} (URL-encoded)');
  await requireReadable(deps, parsed, input.userId);
  const page = await read(deps, input.channel, input.afterSeq, input.limit);
  return {
    messages: page.entries.map(({ seq, id, event, data, ts }) => ({ seq, id, event, data, ts })),
    nextAfterSeq: page.nextAfterSeq,
  };
}

/** Throws forbidden (or not_found for an unknown room) unless `userId` may read the channel's history. */
export async function requireReadable(deps: { rooms: RoomStore }, channel: ParsedChannel, userId: string): Promise<void> {
  switch (channel.kind) {
    case 'room':
      await requireMember(deps.rooms, channel.id, userId);
      return;
    case 'user':
      if (channel.id !== userId) throw forbidden('A user channel is readable by its own user only');
      return;
    case 'document':
      throw forbidden('Document channels have no history yet');
  }
}
