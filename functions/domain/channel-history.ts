/**
 * History of any durable channel the caller may read: the one read a client
 * uses to fill a gap it noticed in a channel's `seq`. Who may read is the
 * channel kind's access policy, the one the relay applies to subscribe
 * (shared/channel-access.ts).
 */
import { parseChannel } from '../../protocol/index.js';
import { requireChannelAccess } from './channel-access.js';
import { read, type ChannelLogDeps } from './channel-log.js';
import { badRequest } from './errors.js';
import type { RoomStore } from './ports.js';

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
  /** Present when the page stopped before a seq still being written: ask again (from `nextAfterSeq`) after this many ms. */
  retryAfterMs?: number;
  /** Present (with `firstSeq`) when history no longer holds seqs `afterSeq + 1` … `firstSeq - 1` (expired). */
  truncated?: true;
  firstSeq?: number;
}

export type ChannelHistoryDeps = Pick<ChannelLogDeps, 'channels' | 'now' | 'gapHealAfterMs' | 'retentionMs'> & {
  rooms: RoomStore;
  /** Tells an unknown document (404) from one the caller does not collaborate on (403). */
  documents?: { getDocument(docId: string): Promise<object | null> };
};

export async function listChannelMessages(
  deps: ChannelHistoryDeps,
  input: { channel: string; userId: string; afterSeq: number; limit: number },
): Promise<ChannelHistoryPage> {
  const parsed = parseChannel(input.channel);
  if (!parsed) throw badRequest('path.channel: must be room:{roomId}, user:{userId} or document:{docId} (URL-encoded)');
  await requireChannelAccess(deps.rooms, input.userId, parsed, deps.documents);
  // Documents never expire (document-compaction.ts): chat retention must not truncate their history.
  const logDeps = parsed.kind === 'document' ? { ...deps, retentionMs: undefined } : deps;
  const page = await read(logDeps, input.channel, input.afterSeq, input.limit);
  return {
    messages: page.entries.map(({ seq, id, event, data, ts }) => ({ seq, id, event, data, ts })),
    nextAfterSeq: page.nextAfterSeq,
    ...(page.retryAfterMs !== undefined && { retryAfterMs: page.retryAfterMs }),
    ...(page.firstSeq !== undefined && { truncated: true as const, firstSeq: page.firstSeq }),
  };
}
