/**
 * Chat messages: a thin caller of the channel log. A send checks membership
 * (the room channel's access policy, functions/domain/channel-access.ts),
 * then appends to `room:{roomId}`; everything durable (seq, idempotency,
 * publish after persist) is the channel log's (functions/domain/channel-log.ts).
 */
import { roomChannel } from '../../protocol/index.js';
import { requireChannelAccess } from './channel-access.js';
import { append, GAP_EVENT, read, WRITE_BUDGET_MS, type ChannelLogDeps } from './channel-log.js';
import { notifyMentions } from './mentions.js';
import type { ChatMessage, InboxStore, RoomStore } from './ports.js';

export interface MessageDeps extends ChannelLogDeps {
  rooms: RoomStore;
  /** With an inbox, members mentioned in the text (`@userId`, functions/domain/mentions.ts) are notified. */
  inbox?: InboxStore;
  /** How long after it starts a send's mention notification may begin writing. @default MENTION_TIMEOUT_MS */
  mentionTimeoutMs?: number;
  /** Told when mention notifications failed or timed out (the message is stored and answered either way). */
  onMentionError?: (error: unknown, message: ChatMessage) => void;
}

/**
 * A send's mention notification starts writing entries only this long after it
 * starts (a few DynamoDB round trips normally take tens of ms). It is never
 * abandoned half-way: Lambda freezes a container once it answers, so what runs
 * after the answer may not finish, and an attempt cut off between its inbox
 * items and its entries would hold its key's lease for a while. Instead it runs
 * under its own deadline (this plus the write budget, and never past the
 * send's): past it, it writes no more entries, takes back what it did not
 * finish and releases its key, so that a retry of the send (mention ids derive
 * from the message: nobody twice) completes it at once.
 */
export const MENTION_TIMEOUT_MS = 1_500;

export const MESSAGE_EVENT = 'message.created';

export interface SendMessageInput {
  roomId: string;
  userId: string;
  text: string;
  clientMessageId?: string;
}

export interface SendResult {
  message: ChatMessage;
  /** False when this was a retry of an already stored message. */
  created: boolean;
  /** Whether live delivery was handed to Redis (a retry publishes the stored message again). Stored either way. */
  published: boolean;
}

export async function sendMessage(deps: MessageDeps, input: SendMessageInput): Promise<SendResult> {
  await requireChannelAccess(deps.rooms, input.userId, { kind: 'room', id: input.roomId });
  const { clientMessageId } = input;
  const { entry, created, published } = await append(deps, roomChannel(input.roomId), {
    event: MESSAGE_EVENT,
    data: ({ seq, id, ts }: { seq: number; id: string; ts: number }): ChatMessage => ({
      id,
      seq,
      roomId: input.roomId,
      userId: input.userId,
      text: input.text,
      createdAt: new Date(ts).toISOString(),
      ...(clientMessageId !== undefined && { clientMessageId }),
    }),
    // Scoped to the sender: two users may use the same clientMessageId.
    ...(clientMessageId !== undefined && { idempotencyKey: `${input.userId}#${clientMessageId}`, fingerprint: input.text, keyName: 'clientMessageId' }),
  });
  const message = entry.data as ChatMessage;
  if (deps.inbox) await mentionsOf(deps, deps.inbox, message);
  return { message, created, published };
}

/** Never fails the send (the message is stored); holds it up only within the send's deadline. Runs on replays too (idempotent; completes a cut-off attempt). */
async function mentionsOf(deps: MessageDeps, inbox: InboxStore, message: ChatMessage): Promise<void> {
  const now = (deps.now ?? Date.now)();
  const writeBudgetMs = deps.writeBudgetMs ?? WRITE_BUDGET_MS;
  const deadline = Math.min(now + (deps.mentionTimeoutMs ?? MENTION_TIMEOUT_MS) + writeBudgetMs, deps.deadline ?? Infinity);
  try {
    if (deadline - writeBudgetMs <= now) throw new Error('no time left before the deadline for mention notifications');
    const outcome = await notifyMentions({ ...deps, inbox, deadline }, message);
    const missed = (outcome?.failed ?? 0) + (outcome?.unknown ?? 0);
    if (missed > 0) throw new Error(`${missed} mention notifications were not (or perhaps not) stored: ${outcome!.results.find((r) => r.reason)?.reason}`);
  } catch (err) {
    try {
      deps.onMentionError?.(err, message);
    } catch {
      // the message is stored and answered regardless
    }
  }
}

// The HTTP contract (protocol/http.ts) owns these limits.
export { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../../protocol/http.js';

export interface HistoryPage {
  messages: ChatMessage[];
  /** Pass as `afterSeq` to get the next page; null when nothing more can be read now (as in v1). */
  nextAfterSeq: number | null;
  /** Present when the page stopped before a seq still being written: more follows after this many ms. */
  retryAfterMs?: number;
  /** Present (with `firstSeq`) when history no longer holds seqs `afterSeq + 1` … `firstSeq - 1` (expired). */
  truncated?: true;
  firstSeq?: number;
}

/**
 * The room's history as v1 returned it: chat messages only. Gap tombstones
 * are left out (their seq will never hold a message), while `nextAfterSeq`
 * still moves past them. A page that stops before a seq still being written
 * keeps v1's `nextAfterSeq: null` (a v1 client that loops until null must
 * not spin) and adds `retryAfterMs`.
 */
export async function listMessages(
  deps: Pick<MessageDeps, 'rooms' | 'channels' | 'now' | 'gapHealAfterMs' | 'retentionMs'>,
  input: { roomId: string; userId: string; afterSeq: number; limit: number },
): Promise<HistoryPage> {
  await requireChannelAccess(deps.rooms, input.userId, { kind: 'room', id: input.roomId });
  const page = await read(deps, roomChannel(input.roomId), input.afterSeq, input.limit);
  return {
    messages: page.entries.filter((e) => e.event !== GAP_EVENT).map((e) => e.data as ChatMessage),
    nextAfterSeq: page.retryAfterMs === undefined ? page.nextAfterSeq : null,
    ...(page.retryAfterMs !== undefined && { retryAfterMs: page.retryAfterMs }),
    ...(page.firstSeq !== undefined && { truncated: true as const, firstSeq: page.firstSeq }),
  };
}
