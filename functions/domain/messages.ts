/**
 * Chat messages: a thin caller of the channel log. A send checks membership,
 * then appends to `room:{roomId}`; everything durable (seq, idempotency,
 * publish after persist) is the channel log's (functions/domain/channel-log.ts).
 */
import { roomChannel } from '../../protocol/index.js';
import { append, GAP_EVENT, read, type ChannelLogDeps } from './channel-log.js';
import type { ChatMessage, RoomStore } from './ports.js';
import { requireMember } from './rooms.js';

export interface MessageDeps extends ChannelLogDeps {
  rooms: RoomStore;
}

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
  /** Whether live delivery was handed to Redis; null on a retry (nothing published again). Stored either way. */
  published: boolean | null;
}

export async function sendMessage(deps: MessageDeps, input: SendMessageInput): Promise<SendResult> {
  await requireMember(deps.rooms, input.roomId, input.userId);
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
  return { message: entry.data as ChatMessage, created, published };
}

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;

export interface HistoryPage {
  messages: ChatMessage[];
  /** Pass as `afterSeq` to get the next page; null when this page reached the end. */
  nextAfterSeq: number | null;
}

/**
 * The room's history as v1 returned it: chat messages only. Gap tombstones
 * are left out (their seq will never hold a message), while `nextAfterSeq`
 * still moves past them.
 */
export async function listMessages(
  deps: Pick<MessageDeps, 'rooms' | 'channels' | 'now' | 'gapHealAfterMs'>,
  input: { roomId: string; userId: string; afterSeq: number; limit: number },
): Promise<HistoryPage> {
  await requireMember(deps.rooms, input.roomId, input.userId);
  const page = await read(deps, roomChannel(input.roomId), input.afterSeq, input.limit);
  return {
    messages: page.entries.filter((e) => e.event !== GAP_EVENT).map((e) => e.data as ChatMessage),
    nextAfterSeq: page.nextAfterSeq,
  };
}
