/**
 * Sending and reading chat messages.
 *
 * Sequence numbers: a message is written at `lastSeq + 1` with a conditional
 * put that fails if that seq is taken; the loser re-reads and tries the next.
 * Seq n is only ever written after seq n-1 exists, so there are no gaps, and
 * the condition rules out duplicates — without transactions or a counter that
 * a crash could leave ahead of the log.
 *
 * Idempotency: with a `clientMessageId`, the sender first claims
 * `(room, user, clientMessageId)` and records on the claim each seq it tries
 * before writing there. A retry finds the claim and, by looking at that seq,
 * knows whether the message was stored; a claim whose holder died is taken
 * over after a lease longer than the function timeout.
 */
import { encodeEnvelope, ENVELOPE_VERSION, roomChannel } from '../../protocol/index.js';
import { conflict, DomainError } from './errors.js';
import { ErrorCode } from '../../protocol/codes.js';
import { newMessageId } from './ids.js';
import { KeyedQueue } from './keyed-queue.js';
import type { ChatMessage, MessageClaim, MessageStore, Publisher, RoomStore } from './ports.js';
import { requireMember } from './rooms.js';

export interface MessageDeps {
  rooms: RoomStore;
  messages: MessageStore;
  publisher: Publisher;
  now?: () => number;
  /** How long a claim stays with a request that has not finished; must exceed the function timeout. */
  claimLeaseMs?: number;
  /** Attempts at the next seq before giving up with `unavailable` (a very hot room). */
  maxSeqAttempts?: number;
}

export const MESSAGE_EVENT = 'message.created';
/** Appends to one room take turns within a process (see KeyedQueue). */
const appendQueue = new KeyedQueue();
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_MAX_ATTEMPTS = 100;

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
}

export async function sendMessage(deps: MessageDeps, input: SendMessageInput): Promise<SendResult> {
  // The membership read runs alongside the idempotency claim (one round trip instead of
  // two); nothing is appended before it has answered. Awaited in claimAndAppend; the
  // handler here only keeps an early rejection from counting as unhandled meanwhile.
  const membership = requireMember(deps.rooms, input.roomId, input.userId);
  membership.catch(() => {});
  // Within this process, sends to one room take turns; the publish is issued inside the
  // turn (so Redis receives this process's messages in seq order) and awaited after it.
  const outcome = await appendQueue.run(input.roomId, async (): Promise<TurnOutcome> => {
    const result = await claimAndAppend(deps, input, membership);
    if ('refused' in result) return result;
    return { result, published: result.created ? publishMessage(deps.publisher, result.message) : null };
  });
  if ('refused' in outcome) {
    // Not allowed to send here: give back a claim made meanwhile (best effort; it is under
    // the caller's own user id, so it could only ever hold up the caller's own retries).
    // After the turn, so that a refused send does not hold up the room's other senders.
    const { claim } = outcome;
    if (claim) await deps.messages.releaseClaim(input.roomId, claim.key, claim.claimedAt).catch(() => {});
    throw outcome.refused;
  }
  // Stored: from here on the message exists whatever happens to the publish.
  await outcome.published;
  return outcome.result;
}

/** A send whose membership check failed, with the claim it made meanwhile, if any. */
interface Refused {
  refused: unknown;
  claim: HeldClaim | null;
}

type TurnOutcome = Refused | { result: SendResult; published: Promise<void> | null };

function publishMessage(publisher: Publisher, message: ChatMessage): Promise<void> {
  const channel = roomChannel(message.roomId);
  return publisher.publish(
    channel,
    encodeEnvelope({
      v: ENVELOPE_VERSION,
      kind: 'message',
      channel,
      seq: message.seq,
      id: message.id,
      event: MESSAGE_EVENT,
      data: message,
      ts: Date.parse(message.createdAt),
    }),
  );
}

interface HeldClaim {
  key: string;
  claimedAt: number;
}

async function claimAndAppend(deps: MessageDeps, input: SendMessageInput, membership: Promise<unknown>): Promise<SendResult | Refused> {
  const now = deps.now ?? Date.now;
  // The seq to try first, from the store's hint (no read when this process sent the last message).
  const firstSeq = (await deps.messages.lastSeq(input.roomId, { hint: true })) + 1;
  if (input.clientMessageId === undefined) {
    await membership;
    return { message: await appendAtNextSeq(deps, input, newMessageId(), null, firstSeq), created: true };
  }

  const key = claimKey(input.userId, input.clientMessageId);
  // The claim records the first seq it will try, so the common case writes it only once.
  const mine: MessageClaim = { messageId: newMessageId(), userId: input.userId, text: input.text, claimedAt: now(), seq: firstSeq };
  const [claimed, member] = await Promise.allSettled([deps.messages.claim(input.roomId, key, mine), membership]);
  if (member.status === 'rejected') {
    const made = claimed.status === 'fulfilled' && claimed.value === null;
    return { refused: member.reason, claim: made ? { key, claimedAt: mine.claimedAt } : null };
  }
  if (claimed.status === 'rejected') throw claimed.reason;
  const existing = claimed.value;
  if (!existing) {
    const held: HeldClaim = { key, claimedAt: mine.claimedAt };
    return { message: await appendReleasingClaim(deps, input, mine.messageId, held, firstSeq), created: true };
  }

  if (existing.text !== input.text) {
    throw conflict('This clientMessageId was already used for a different text; use a new clientMessageId');
  }
  const stored = await storedMessageOf(deps.messages, input.roomId, existing);
  if (stored) return { message: stored, created: false };
  if (now() - existing.claimedAt < (deps.claimLeaseMs ?? DEFAULT_LEASE_MS)) {
    throw conflict('A request with this clientMessageId is still in progress; retry shortly');
  }
  // The holder died before storing: take the claim over, keeping its message id.
  const takenAt = now();
  if (!(await deps.messages.updateClaim(input.roomId, key, existing.claimedAt, { claimedAt: takenAt }))) {
    throw conflict('A request with this clientMessageId is still in progress; retry shortly');
  }
  return { message: await appendReleasingClaim(deps, input, existing.messageId, { key, claimedAt: takenAt }), created: true };
}

/**
 * Appends under a claim. When every attempt lost its seq to other messages
 * (room too busy), nothing of ours was stored, so the claim is released and a
 * retry is not told "still in progress". After any other failure the write's
 * outcome is unknown, so the claim stays: a retry after the lease finds the
 * message at the claim's seq if it was stored.
 */
async function appendReleasingClaim(
  deps: MessageDeps,
  input: SendMessageInput,
  id: string,
  claim: HeldClaim,
  firstSeq?: number,
): Promise<ChatMessage> {
  try {
    return await appendAtNextSeq(deps, input, id, claim, firstSeq);
  } catch (err) {
    if (err instanceof DomainError && err.code === ErrorCode.Unavailable) {
      await deps.messages.releaseClaim(input.roomId, claim.key, claim.claimedAt).catch(() => {});
    }
    throw err;
  }
}

/**
 * Writes the message at the next free seq. `firstSeq`, when given, is tried
 * first and is already recorded on the claim; every other attempt records its
 * seq on the claim before writing there.
 */
async function appendAtNextSeq(
  deps: MessageDeps,
  input: SendMessageInput,
  id: string,
  claim: HeldClaim | null,
  firstSeq?: number,
): Promise<ChatMessage> {
  const maxAttempts = deps.maxSeqAttempts ?? DEFAULT_MAX_ATTEMPTS;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    let seq: number;
    if (attempt === 0 && firstSeq !== undefined) {
      seq = firstSeq;
    } else {
      seq = (await deps.messages.lastSeq(input.roomId)) + 1;
      if (claim && !(await deps.messages.updateClaim(input.roomId, claim.key, claim.claimedAt, { seq }))) {
        throw conflict('Another request took over this clientMessageId; retry to get the stored message');
      }
    }
    const message: ChatMessage = {
      id,
      seq,
      roomId: input.roomId,
      userId: input.userId,
      text: input.text,
      createdAt: new Date((deps.now ?? Date.now)()).toISOString(),
      ...(input.clientMessageId !== undefined && { clientMessageId: input.clientMessageId }),
    };
    if (await deps.messages.putMessageAtSeq(message)) return message;
    // Lost the race for this seq: back off a little (full jitter) and try the next one.
    await sleep(Math.random() * Math.min(2 ** attempt, 50));
  }
  throw new DomainError(ErrorCode.Unavailable, `Room ${input.roomId} is too busy right now; retry the request`);
}

/** The message a claim produced, if it was stored (its recorded seq holds our message id). */
async function storedMessageOf(store: MessageStore, roomId: string, claim: MessageClaim): Promise<ChatMessage | null> {
  if (claim.seq === undefined) return null;
  const atSeq = await store.getMessage(roomId, claim.seq);
  return atSeq?.id === claim.messageId ? atSeq : null;
}

const claimKey = (userId: string, clientMessageId: string) => `${userId}#${clientMessageId}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;

export interface HistoryPage {
  messages: ChatMessage[];
  /** Pass as `afterSeq` to get the next page; null when this page reached the end. */
  nextAfterSeq: number | null;
}

export async function listMessages(
  deps: Pick<MessageDeps, 'rooms' | 'messages'>,
  input: { roomId: string; userId: string; afterSeq: number; limit: number },
): Promise<HistoryPage> {
  await requireMember(deps.rooms, input.roomId, input.userId);
  const messages = await deps.messages.listMessages(input.roomId, input.afterSeq, input.limit);
  const last = messages.at(-1);
  return { messages, nextAfterSeq: messages.length === input.limit && last ? last.seq : null };
}
