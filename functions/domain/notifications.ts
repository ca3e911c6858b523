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
 *   1. with an idempotency key: claim it (functions/domain/notify-claim.ts),
 *      which fixes the ids and admits one writing attempt at a time. A retry
 *      gets 409 while an earlier attempt may still be writing; after that it
 *      looks up what is stored: a recipient is `duplicate` only when its inbox
 *      item is there AND the entry at the item's seq carries the item's id
 *      (two BatchGetItems), since an attempt cut off between steps 3 and 4
 *      leaves items without entries. The others it stores, taking the claim over;
 *   2. reserve one seq per remaining recipient (UpdateItem on each counter);
 *   3. write the inbox items and their unread flags (BatchWriteItem, 25 per
 *      request, unprocessed items resent): no condition is needed, since only
 *      the claim's holder writes these ids, and ids without a key are random.
 *      An item found without its entry is overwritten here, pointing at its new seq;
 *   4. put each entry at its seq, put-if-empty as the channel log does. A seq
 *      found taken by another item: the inbox item is taken back, the
 *      recipient `failed`. A put whose outcome stays unknown: the item is kept
 *      and the recipient reported `unknown` (a retry settles it: step 1);
 *   5. publish every entry, pipelined: a bounded number in flight, which both drivers send
 *      batched (ioredis's auto-pipelining on the publishing connection, @upstash/redis's
 *      on by default: one REST `/pipeline` request per batch).
 *
 * DynamoDB transactions could make steps 3 and 4 one write, but dynalite (the
 * local stack and the tests) has none; this order keeps every guarantee
 * without them. Never a silent partial success: the result lists every
 * recipient with its outcome.
 */
import { userChannel } from '../../protocol/index.js';
import { INBOX_RETENTION_DAYS, NOTIFICATION_EVENT, type NotifyRecipientResult } from '../../protocol/http.js';
import { eachLimited } from '../../shared/each-limited.js';
import { checkPayload, expiry, fillGap, publish, settle, WRITE_BUDGET_MS, type ChannelLogDeps } from './channel-log.js';
import { checkData, notificationOf } from './notification-data.js';
import { claimKey, notificationId, type KeyedInput } from './notify-claim.js';
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

export interface NotifyInput extends KeyedInput {
  userIds: string[];
}

export interface NotifyOutcome {
  stored: number;
  duplicates: number;
  failed: number;
  unknown: number;
  results: NotifyRecipientResult[];
}

type Results = Map<string, NotifyRecipientResult>;

const TOO_SLOW = 'not stored: the database was too slow to finish in time; retry with the same idempotencyKey';
const UNKNOWN = 'the database did not say whether it was stored; retry with the same idempotencyKey (nobody is notified twice)';

/** Throws (before writing anything) on data over the documented bounds, a key reused for other content, or a key in use by a call still running. */
export async function notify(deps: NotifyDeps, input: NotifyInput): Promise<NotifyOutcome> {
  const now = deps.now ?? Date.now;
  checkData(input.data);
  const userIds = [...new Set(input.userIds)];
  // The widest entry this call makes must fit the relay's envelope bounds.
  const widest = userIds.reduce((a, b) => (b.length > a.length ? b : a), '');
  checkPayload(userChannel(widest), NOTIFICATION_EVENT, notificationOf(input, `${'0'.repeat(9)}-${'0'.repeat(16)}`, now()));

  // 1. The key's claim (its time makes the ids), and what an earlier attempt stored already.
  const key = input.idempotencyKey === undefined ? null : await claimKey(deps, { ...input, idempotencyKey: input.idempotencyKey });
  const createdAt = key?.createdAt ?? input.createdAt ?? now();
  const ids = new Map(userIds.map((u) => [u, notificationId(input, createdAt, u)]));
  const results: Results = new Map();
  let pending = userIds;
  if (key && !key.fresh) {
    key.requireIdle(); // 409 while an earlier attempt may be between its items and its entries
    pending = await unstored(deps, pending, ids, results);
    if (pending.length === 0) return outcome(userIds, results);
    await key.hold(); // conditional on the claim as read: nobody has written since the lookup
  }
  try {
    await deliver(deps, input, { pending, ids, createdAt, results });
  } finally {
    await key?.release();
  }
  return outcome(userIds, results);
}

/**
 * Marks `duplicate` the recipients fully stored by an earlier attempt (item, and
 * the entry at its seq with its id); returns the others. An item without its
 * entry (the attempt was cut off, or its put's outcome stayed unknown and did
 * not land) is stored again, at a new seq.
 */
async function unstored(deps: NotifyDeps, userIds: string[], ids: Map<string, string>, results: Results): Promise<string[]> {
  const now = deps.now ?? Date.now;
  const itemKey = (u: string) => `${u}\n${ids.get(u)}`;
  const seqs = await deps.inbox.storedSeqs(userIds.map((userId) => ({ userId, id: ids.get(userId)! })), now());
  const withItem = userIds.filter((u) => seqs.has(itemKey(u)));
  const entries = withItem.length === 0 ? [] : await deps.channels.getEntries(withItem.map((u) => ({ channel: userChannel(u), seq: seqs.get(itemKey(u))! })));
  const confirmed = new Set(entries.map((e) => `${e.channel}\n${e.id}`));
  for (const userId of withItem) {
    if (confirmed.has(`${userChannel(userId)}\n${ids.get(userId)}`)) results.set(userId, { userId, status: 'duplicate', id: ids.get(userId)! });
  }
  return userIds.filter((u) => !results.has(u));
}

interface Delivery {
  pending: string[];
  ids: Map<string, string>;
  createdAt: number;
  results: Results;
}

/** Steps 2-5 for the recipients not stored yet; only one attempt per key runs this at a time. */
async function deliver(deps: NotifyDeps, input: NotifyInput, { pending, ids, createdAt, results }: Delivery): Promise<void> {
  const now = deps.now ?? Date.now;
  const concurrency = deps.concurrency ?? NOTIFY_CONCURRENCY;
  const fail = (userId: string, reason: string) => results.set(userId, { userId, status: 'failed', id: ids.get(userId)!, reason });

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
      fail(userId, TOO_SLOW);
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
      return unstore(item, TOO_SLOW);
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
    const settled = await settle(deps, entry);
    if (settled === 'stored') {
      entries.push(entry);
      results.set(item.userId, { userId: item.userId, status: 'stored', id: item.id, seq: item.seq });
    } else if (settled === 'taken') {
      await unstore(item, 'not stored (its seq could not be written); retry with the same idempotencyKey');
    } else {
      // The entry may be there: keep the item, so that the pair stays whole if it is.
      results.set(item.userId, { userId: item.userId, status: 'unknown', id: item.id, seq: item.seq, reason: UNKNOWN });
    }
  });

  // 5. Live delivery, pipelined; what is stored stays stored whatever happens here.
  await eachLimited(entries, PUBLISH_CONCURRENCY, async (entry) => {
    const published = await publish(deps, entry);
    const userId = entry.channel.slice('user:'.length);
    results.set(userId, { ...results.get(userId)!, published });
  });
}

function outcome(userIds: string[], results: Results): NotifyOutcome {
  const list = userIds.map((u) => results.get(u)!);
  const count = (status: NotifyRecipientResult['status']) => list.filter((r) => r.status === status).length;
  return { stored: count('stored'), duplicates: count('duplicate'), failed: count('failed'), unknown: count('unknown'), results: list };
}

const unavailableReason = (err: unknown) =>
  `not stored: ${err instanceof Error ? err.name : 'error'} from the database; retry with the same idempotencyKey`;
