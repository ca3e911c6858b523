/**
 * Notifications: one call notifies up to 1,000 users. Each recipient gets one
 * inbox item and one durable entry on `user:{userId}` (event `notification`),
 * both with the same id, so a client merges the live event and the inbox
 * without duplicates.
 *
 * A batched variant of the channel log's append (functions/domain/channel-log.ts),
 * keeping its rules: every seq comes from the channel's atomic counter, an
 * entry is written with the put-if-empty rule, a reserved seq that ends up
 * unused is filled with the gap tombstone at once, nothing is written once the
 * answer could not reach the caller in time (`deadline`), and publishing comes
 * last and never fails what was stored. Steps, each over all recipients
 * concurrently (`concurrency` requests in flight):
 *
 *   1. with an idempotency key: claim it (the channel log's claim, in the
 *      idempotency table, 24 h). The claim keeps the first attempt's time, from
 *      which each (caller, key, user) gets a deterministic id, and it admits one
 *      writing attempt at a time (a lease above the function timeout, released
 *      at the end). A retry first looks the ids up (BatchGetItem): recipients
 *      stored already are `duplicate` (not notified again); if some are left it
 *      takes the claim over, or gets 409 while another attempt is still writing;
 *   2. reserve one seq per remaining recipient (UpdateItem on each counter);
 *   3. write the inbox items and their unread flags (BatchWriteItem, 25 per
 *      request, unprocessed items resent): no condition is needed, since only
 *      the claim's holder writes these ids, and ids without a key are random;
 *   4. put each entry at its seq, put-if-empty as the channel log does; a
 *      recipient whose entry cannot be stored has its inbox item taken back
 *      (conditional on its seq) and is reported `failed`;
 *   5. publish every entry, pipelined: a bounded number in flight, which both drivers send
 *      batched (ioredis's auto-pipelining on the publishing connection, @upstash/redis's
 *      on by default: one REST `/pipeline` request per batch).
 *
 * DynamoDB transactions could make steps 3 and 4 one write, but dynalite (the
 * local stack and the tests) has none; this order keeps every guarantee
 * without them. Never a silent partial success: the result lists every
 * recipient with its outcome.
 */
import { createHash, randomBytes } from 'node:crypto';
import { checkJsonShape, userChannel } from '../../protocol/index.js';
import { ErrorCode } from '../../protocol/codes.js';
import {
  INBOX_RETENTION_DAYS,
  MAX_NOTIFICATION_DATA_BYTES,
  MAX_NOTIFICATION_DATA_DEPTH,
  MAX_NOTIFICATION_DATA_ELEMENTS,
  NOTIFICATION_EVENT,
  type Notification,
  type NotifyRecipientResult,
} from '../../protocol/http.js';
import { checkPayload, CLAIM_LEASE_MS, expiry, fillGap, publish, WRITE_BUDGET_MS, type ChannelLogDeps } from './channel-log.js';
import { newMessageId } from './ids.js';
import { badRequest, conflict, DomainError } from './errors.js';
import type { InboxItem, InboxStore, LogEntry } from './ports.js';

export interface NotifyDeps extends ChannelLogDeps {
  inbox: InboxStore;
  /** DynamoDB requests in flight at once. @default NOTIFY_CONCURRENCY */
  concurrency?: number;
}

/** Enough to keep DynamoDB busy without queueing hundreds of sockets in one Lambda. */
export const NOTIFY_CONCURRENCY = 64;
/** Publishes in flight at once (the drivers pipeline them: see step 5). */
export const PUBLISH_CONCURRENCY = 256;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface NotifyInput {
  userIds: string[];
  type: string;
  title: string;
  body: string;
  data?: unknown;
  /** Whose keys these are: a key is scoped to it (e.g. `api:{client}`, `mention:{roomId}`). */
  namespace: string;
  idempotencyKey?: string;
  /** The notification's time, when the caller has a fixed one (a mention: its message's); it makes ids deterministic without a claim. */
  createdAt?: number;
}

export interface NotifyOutcome {
  stored: number;
  duplicates: number;
  failed: number;
  results: NotifyRecipientResult[];
}

/** Throws (before writing anything) on data over the documented bounds, a key reused for other content, or a key in use by a call still running. */
export async function notify(deps: NotifyDeps, input: NotifyInput): Promise<NotifyOutcome> {
  const now = deps.now ?? Date.now;
  checkData(input.data);
  const userIds = [...new Set(input.userIds)];
  // The widest entry this call makes must fit the relay's envelope bounds.
  const widest = userIds.reduce((a, b) => (b.length > a.length ? b : a), '');
  checkPayload(userChannel(widest), NOTIFICATION_EVENT, notificationOf(input, `${'0'.repeat(9)}-${'0'.repeat(16)}`, now()));

  // 1. The key's claim (its time makes the ids), and what an earlier attempt stored already.
  const key = input.idempotencyKey === undefined ? null : await claimKey(deps, input);
  const createdAt = key?.createdAt ?? input.createdAt ?? now();
  const ids = new Map(userIds.map((u) => [u, notificationId(input, createdAt, u)]));
  const results = new Map<string, NotifyRecipientResult>();
  const fail = (userId: string, reason: string) => results.set(userId, { userId, status: 'failed', id: ids.get(userId)!, reason });
  let pending = userIds;
  const findStored = async () => {
    const stored = await deps.inbox.existing(pending.map((userId) => ({ userId, id: ids.get(userId)! })), now());
    for (const userId of pending) if (stored.has(`${userId}\n${ids.get(userId)}`)) results.set(userId, { userId, status: 'duplicate', id: ids.get(userId)! });
    pending = pending.filter((u) => !results.has(u));
  };
  const takenOver = key !== null && !key.fresh;
  if (takenOver) {
    await findStored();
    if (pending.length === 0) return outcome(userIds, results);
    await key.hold(); // or 409: another attempt with this key is writing right now
  }
  try {
    // Look again now that no one else writes: the attempt we took over may have stored more since.
    if (takenOver) await findStored();
    await deliver(deps, input, { pending, ids, createdAt, results, fail });
  } finally {
    await key?.release();
  }
  return outcome(userIds, results);
}

interface Delivery {
  pending: string[];
  ids: Map<string, string>;
  createdAt: number;
  results: Map<string, NotifyRecipientResult>;
  fail: (userId: string, reason: string) => void;
}

/** Steps 2-5 for the recipients not stored yet; only one attempt per key runs this at a time. */
async function deliver(deps: NotifyDeps, input: NotifyInput, { pending, ids, createdAt, results, fail }: Delivery): Promise<void> {
  const now = deps.now ?? Date.now;
  const concurrency = deps.concurrency ?? NOTIFY_CONCURRENCY;

  // 2. One seq per recipient.
  const seqs = new Map<string, number>();
  await eachLimited(pending, concurrency, async (userId) => {
    try {
      seqs.set(userId, await deps.channels.reserveSeq(userChannel(userId), now()));
    } catch (err) {
      fail(userId, unavailableReason(err));
    }
  });
  const reserved = pending.filter((u) => seqs.has(u));
  const releaseSeq = (userId: string) => fillGap(deps, userChannel(userId), seqs.get(userId)!).catch(() => {}); // else the gap rule does it

  // Nothing is written when the answer could not reach the caller in time.
  const outOfTime = () => deps.deadline !== undefined && now() > deps.deadline - (deps.writeBudgetMs ?? WRITE_BUDGET_MS);
  if (outOfTime()) {
    await eachLimited(reserved, concurrency, async (userId) => {
      await releaseSeq(userId);
      fail(userId, 'not stored: the database was too slow to finish in time; retry with the same idempotencyKey');
    });
    return;
  }

  // 3. The inbox items with their unread flags, batched. Only this attempt writes these ids
  //    (the key's claim), so the items need no condition; random ids (no key) never meet.
  const items = reserved.map(
    (userId): InboxItem => ({
      userId,
      id: ids.get(userId)!,
      type: input.type,
      title: input.title,
      body: input.body,
      ...(input.data !== undefined && { data: input.data }),
      createdAt,
      seq: seqs.get(userId)!,
      expiresAt: Math.ceil((createdAt + INBOX_RETENTION_DAYS * DAY_MS) / 1000),
    }),
  );
  const unstore = async (item: InboxItem, reason: string) => {
    await deps.inbox.removeItem(item.userId, item.id, item.seq).catch(() => {}); // only ours: conditional on our seq
    fail(item.userId, reason);
  };
  try {
    await deps.inbox.putItems(items);
  } catch (err) {
    // Some batches may have landed: take back whatever carries our seqs, as stored nothing.
    await eachLimited(items, concurrency, async (item) => {
      await releaseSeq(item.userId);
      await unstore(item, unavailableReason(err));
    });
    return;
  }

  // 4. The entries, put-if-empty at their seqs.
  const ts = now();
  const entries: LogEntry[] = [];
  await eachLimited(items, concurrency, async (item) => {
    // Per entry, as the channel log does: written only while its write and publish can still finish in time.
    if (outOfTime()) {
      await releaseSeq(item.userId);
      return unstore(item, 'not stored: the database was too slow to finish in time; retry with the same idempotencyKey');
    }
    const entry: LogEntry = {
      channel: userChannel(item.userId),
      seq: item.seq,
      id: item.id,
      event: NOTIFICATION_EVENT,
      data: notificationOf(input, item.id, createdAt),
      ts,
      ...expiry(deps, ts),
    };
    let stored: boolean;
    try {
      stored = (await deps.channels.putEntry(entry)) || (await deps.channels.getEntry(entry.channel, entry.seq))?.id === entry.id;
    } catch {
      // Settle an unknown outcome by filling the seq: either our entry is there, or the tombstone is.
      stored = (await fillGap(deps, entry.channel, entry.seq).catch(() => null))?.id === entry.id;
    }
    if (stored) {
      entries.push(entry);
      results.set(item.userId, { userId: item.userId, status: 'stored', id: item.id, seq: item.seq });
    } else {
      await unstore(item, 'not stored (its seq could not be written); retry with the same idempotencyKey');
    }
  });

  // 5. Live delivery, pipelined; what is stored stays stored whatever happens here.
  await eachLimited(entries, PUBLISH_CONCURRENCY, async (entry) => {
    const published = await publish(deps, entry);
    const userId = entry.channel.slice('user:'.length);
    results.set(userId, { ...results.get(userId)!, published });
  });
}

/** The notification as the live event and the inbox show it. */
export function notificationOf(input: Pick<NotifyInput, 'type' | 'title' | 'body' | 'data'>, id: string, createdAt: number): Notification {
  return {
    id,
    type: input.type,
    title: input.title,
    body: input.body,
    ...(input.data !== undefined && { data: input.data }),
    createdAt,
    read: false,
  };
}

/** 413 over MAX_NOTIFICATION_DATA_BYTES, 400 over the shape bounds. */
function checkData(data: unknown): void {
  if (data === undefined) return;
  const text = JSON.stringify(data);
  if (Buffer.byteLength(text, 'utf8') > MAX_NOTIFICATION_DATA_BYTES) {
    throw new DomainError(ErrorCode.PayloadTooLarge, `data: larger than ${MAX_NOTIFICATION_DATA_BYTES} bytes as JSON`);
  }
  const problem = checkJsonShape(text, { maxDepth: MAX_NOTIFICATION_DATA_DEPTH, maxElements: MAX_NOTIFICATION_DATA_ELEMENTS });
  if (problem?.bound === 'depth') throw badRequest(`data: nested deeper than ${MAX_NOTIFICATION_DATA_DEPTH} levels`);
  if (problem) throw badRequest(`data: more than ${MAX_NOTIFICATION_DATA_ELEMENTS} object members and array items`);
  const unstorable = unstorableIn(data, 'data');
  if (unstorable) throw badRequest(unstorable);
}

/**
 * What DynamoDB cannot store as sent (walked only after the shape bounds held):
 * numbers beyond ±(2^53 - 1), which JSON readers lose precision on anyway, or
 * closer to 0 than 1e-130 (DynamoDB's smallest), and empty object keys.
 */
function unstorableIn(value: unknown, path: string): string | null {
  if (typeof value === 'number') {
    const size = Math.abs(value);
    return size !== 0 && (size > Number.MAX_SAFE_INTEGER || size < 1e-130) ? `${path}: numbers must be 0 or between 1e-130 and 9007199254740991 in magnitude` : null;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const problem = unstorableIn(item, `${path}.${i}`);
      if (problem) return problem;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '') return `${path}: object keys must not be empty`;
      const problem = unstorableIn(item, `${path}.${key}`);
      if (problem) return problem;
    }
  }
  return null;
}

interface KeyClaim {
  /** The first attempt's time: the ids' time part. */
  createdAt: number;
  /** True when this call created the claim: nothing can be stored under its ids yet. */
  fresh: boolean;
  /** Takes the claim over from an attempt that finished or died; 409 while another one is writing. */
  hold(): Promise<void>;
  /** Lets the next attempt take the claim at once (it is held until the lease runs out otherwise). */
  release(): Promise<void>;
}

/**
 * The key's claim in the idempotency table (kept 24 h), the channel log's
 * (ChannelStore.claim): it keeps the first attempt's time, a fingerprint of the
 * content, and who is writing. One attempt at a time writes (a lease of
 * `claimLeaseMs`, above the function timeout, released when it finishes), so
 * two concurrent retries cannot both store a recipient: the later one gets 409
 * and, retried, finds everything stored.
 */
async function claimKey(deps: NotifyDeps, input: NotifyInput): Promise<KeyClaim> {
  const now = deps.now ?? Date.now;
  const channel = `notify:${input.namespace}`;
  const key = input.idempotencyKey!;
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([input.type, input.title, input.body, input.data ?? null]))
    .digest('base64url');
  // The attempt's own random part: two first attempts in the same ms must not both take the claim for their own.
  const mine = { entryId: `at-${input.createdAt ?? now()}-${newMessageId()}`, fingerprint, claimedAt: now() };
  const existing = await deps.channels.claim(channel, key, mine);
  if (existing && existing.fingerprint !== fingerprint) {
    throw conflict('This idempotencyKey was already used for a different notification (type, title, body or data); use a new idempotencyKey');
  }
  const inProgress = () => conflict('A call with this idempotencyKey is still storing; retry shortly (nobody is notified twice)');
  let heldAt: number | null = existing ? null : mine.claimedAt;
  return {
    createdAt: Number((existing ?? mine).entryId.split('-')[1]),
    fresh: !existing,
    async hold() {
      if (now() - existing!.claimedAt < (deps.claimLeaseMs ?? CLAIM_LEASE_MS)) throw inProgress();
      const takenAt = Math.max(now(), existing!.claimedAt + 1);
      if (!(await deps.channels.takeOverClaim(channel, key, existing!.claimedAt, takenAt, newMessageId()))) throw inProgress();
      heldAt = takenAt;
    },
    async release() {
      // claimedAt 0: a lease long run out. If this fails, the lease runs out by itself.
      if (heldAt !== null) await deps.channels.takeOverClaim(channel, key, heldAt, 0, newMessageId()).catch(() => false);
    },
  };
}

/**
 * `{time}-{16 chars}`: the time (epoch ms, base 36, 9 digits) orders an inbox
 * newest first; the rest is random, or with a key derived from (namespace, key, user).
 */
export function notificationId(input: Pick<NotifyInput, 'namespace' | 'idempotencyKey'>, createdAt: number, userId: string): string {
  const time = createdAt.toString(36).padStart(9, '0');
  const rest =
    input.idempotencyKey === undefined
      ? randomBytes(12).toString('base64url')
      : createHash('sha256').update(`${input.namespace}\n${input.idempotencyKey}\n${userId}`).digest('base64url').slice(0, 16);
  return `${time}-${rest}`;
}

function outcome(userIds: string[], results: Map<string, NotifyRecipientResult>): NotifyOutcome {
  const list = userIds.map((u) => results.get(u)!);
  const count = (status: NotifyRecipientResult['status']) => list.filter((r) => r.status === status).length;
  return { stored: count('stored'), duplicates: count('duplicate'), failed: count('failed'), results: list };
}

const unavailableReason = (err: unknown) =>
  `not stored: ${err instanceof Error ? err.name : 'error'} from the database; retry with the same idempotencyKey`;

/** Runs `work` over `items` with at most `limit` at once; never rejects for one item (each handles its own errors). */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
