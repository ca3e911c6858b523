/**
 * The channel log: durable delivery for every channel kind (`room:…`,
 * `user:…`, `document:…`). Callers say what to append where; this module
 * assigns the gap-free per-channel `seq`, stores the entry, replays
 * idempotent retries, and then publishes the envelope. It reads top to
 * bottom; the store underneath is a plain port (functions/domain/ports.ts).
 *
 * Sequence numbers. A seq is reserved with one atomic counter update per
 * channel (never a conflict, however many writers race), then the entry is
 * written at that seq with a put that fails if the seq already holds an item.
 * Counter and puts can never produce a duplicate seq. A writer that dies
 * between reserving and writing leaves a hole, which the gap rule closes:
 *
 *   A seq that is reserved but still empty `gapHealAfterMs` (5 s) after its
 *   reservation is filled with a tombstone (`event: "gap"`, `data: null`) by
 *   the first reader or retry that finds it, with the same conditional put, so
 *   a tombstone never overwrites an entry. A writer slower than that finds
 *   the tombstone in its place and reports the message as not stored.
 *
 * A hole's reservation time is bounded from above by the `ts` of any later
 * entry (taken after that entry's reservation, which came after the hole's),
 * or, at the end of the log, by the counter's last reservation time. History
 * never skips a seq: it stops before a hole younger than the bound. So a
 * client waits at most about the bound for a seq, and every seq ends up
 * holding exactly one item. Timing decides only who wins a seq (the writer or
 * the tombstone), never whether a seq can be doubled or left empty for good.
 *
 * Idempotency. With a key, the sender first claims `(channel, key)`, then
 * records on the claim the seq it reserved before writing there. A retry finds
 * the claim and looks at that seq: our entry (replayed, nothing published), a
 * tombstone (that attempt stored nothing: the retry takes the claim over and
 * stores it), or still empty (in progress until the gap bound, then filled and
 * taken over). A claim with no seq yet is in progress for `claimLeaseMs`,
 * which must exceed the function timeout.
 *
 * Publishing comes last and never fails the append: the entry is stored, and
 * the result says whether the publish went through (within `publishTimeoutMs`).
 */
import { createHash } from 'node:crypto';
import { encodeEnvelope, ENVELOPE_VERSION } from '../../protocol/index.js';
import { ErrorCode } from '../../protocol/codes.js';
import { EVENT_PATTERN } from '../../protocol/frames.js';
import { conflict, DomainError } from './errors.js';
import { newMessageId } from './ids.js';
import type { ChannelStore, LogClaim, LogEntry, Publisher } from './ports.js';

/** The event of a tombstone: a seq that holds no message. Clients skip it (its seq is used up). */
export const GAP_EVENT = 'gap';
/** How long a reserved seq may stay empty before it is filled with a tombstone. */
export const GAP_HEAL_AFTER_MS = 5_000;
/** How long a claim with no seq yet counts as in progress; must exceed the function timeout (10 s). */
export const CLAIM_LEASE_MS = 30_000;
/** How long the append waits for the publish before answering `published: false`. */
export const PUBLISH_TIMEOUT_MS = 1_000;

export interface ChannelLogDeps {
  channels: ChannelStore;
  publisher: Publisher;
  /** @default Date.now */
  now?: () => number;
  /** @default GAP_HEAL_AFTER_MS */
  gapHealAfterMs?: number;
  /** @default CLAIM_LEASE_MS */
  claimLeaseMs?: number;
  /** @default PUBLISH_TIMEOUT_MS */
  publishTimeoutMs?: number;
  /** Told about a publish that failed or timed out after the entry was stored. */
  onPublishError?: (error: unknown, entry: LogEntry) => void;
}

/** What an entry's payload may be built from: it is known only once the seq is reserved. */
export interface EntryMeta {
  channel: string;
  seq: number;
  id: string;
  ts: number;
}

export interface AppendInput {
  /** The envelope's `event` (1-64 of A-Z a-z 0-9 _ . : -), e.g. `message.created`. */
  event: string;
  /** The payload (JSON), or a function building it from the entry's seq, id and ts. */
  data: unknown;
  /** Makes retries safe: a retry with the same key returns the stored entry instead of appending again. */
  idempotencyKey?: string;
  /** What counts as "the same request" for the key; a retry with other content is a conflict. @default JSON of `data` */
  fingerprint?: string;
  /** How error messages name the key (e.g. `clientMessageId`). @default "idempotency key" */
  keyName?: string;
}

export interface AppendResult {
  entry: LogEntry;
  /** False when this was a retry of an already stored entry (then nothing is published). */
  created: boolean;
  /** Whether the envelope was published; null on a replay. The entry is stored either way. */
  published: boolean | null;
}

type DataBuilder = (meta: EntryMeta) => unknown;

export async function append(deps: ChannelLogDeps, channel: string, input: AppendInput): Promise<AppendResult> {
  if (!EVENT_PATTERN.test(input.event)) throw new TypeError(`append: event "${input.event}" must be 1-64 of A-Z a-z 0-9 _ . : -`);
  const now = deps.now ?? Date.now;

  // 1. Claim the idempotency key, or find what an earlier attempt with it stored.
  const claim = input.idempotencyKey === undefined ? null : await claimOrReplay(deps, channel, input, input.idempotencyKey);
  if (claim && 'replay' in claim) return { entry: claim.replay, created: false, published: null };

  // 2. Reserve the seq: one atomic counter update, which no other writer can make fail.
  const seq = await deps.channels.reserveSeq(channel, now());
  const ts = now();

  // 3. Record the seq on the claim before writing there, so that a retry can find the entry.
  if (claim && !(await deps.channels.recordClaimSeq(channel, claim.key, claim.claimedAt, seq, ts))) {
    await fillGap(deps, channel, seq).catch(() => {}); // the seq stays unused: close it now rather than after the bound
    throw conflict(`Another request took this ${keyName(input)} over; retry to get the stored message`);
  }

  // 4. Write the entry at that seq.
  const id = claim?.entryId ?? newMessageId();
  const data = typeof input.data === 'function' ? (input.data as DataBuilder)({ channel, seq, id, ts }) : input.data;
  const entry: LogEntry = { channel, seq, id, event: input.event, data, ts };
  await write(deps, entry, input);

  // 5. Publish. The entry is stored whatever happens here.
  return { entry, created: true, published: await publish(deps, entry) };
}

async function write(deps: ChannelLogDeps, entry: LogEntry, input: AppendInput): Promise<void> {
  let stored: boolean;
  try {
    stored = await deps.channels.putEntry(entry);
  } catch (err) {
    // Outcome unknown (a timeout, say): settle it by filling the seq ourselves. Either
    // our entry is there (stored after all) or the tombstone is (stored nothing).
    const there = await fillGap(deps, entry.channel, entry.seq).catch(() => null);
    if (there?.id === entry.id) return;
    throw unavailable(
      there
        ? `Message to ${entry.channel} was not stored; retry the request`
        : `Storing the message to ${entry.channel} failed with an unknown outcome; retry with the same ${keyName(input)}`,
      err,
    );
  }
  if (stored) return;
  // The seq is taken: by our own write (the SDK retried it after a lost response), or by
  // a tombstone because we took longer than the gap bound to get here.
  const there = await deps.channels.getEntry(entry.channel, entry.seq);
  if (there?.id !== entry.id) throw unavailable(`Message to ${entry.channel} was not stored (too slow to write its seq); retry the request`);
}

/** Fills an empty `seq` with a tombstone; returns what the seq holds afterwards (the tombstone, or the entry that won). */
async function fillGap(deps: Pick<ChannelLogDeps, 'channels' | 'now'>, channel: string, seq: number): Promise<LogEntry> {
  const tombstone: LogEntry = { channel, seq, id: `gap-${seq}`, event: GAP_EVENT, data: null, ts: (deps.now ?? Date.now)() };
  if (await deps.channels.putEntry(tombstone)) return tombstone;
  const there = await deps.channels.getEntry(channel, seq);
  if (!there) throw new Error(`seq ${seq} of ${channel} is taken but holds nothing; entries must never be deleted`);
  return there;
}

interface HeldClaim {
  key: string;
  entryId: string;
  claimedAt: number;
}

async function claimOrReplay(deps: ChannelLogDeps, channel: string, input: AppendInput, key: string): Promise<HeldClaim | { replay: LogEntry }> {
  const now = deps.now ?? Date.now;
  const fingerprint = fingerprintOf(input);
  const mine: LogClaim = { entryId: newMessageId(), fingerprint, claimedAt: now() };
  const existing = await deps.channels.claim(channel, key, mine);
  if (!existing) return { key, entryId: mine.entryId, claimedAt: mine.claimedAt };

  if (existing.fingerprint !== fingerprint) {
    throw conflict(`This ${keyName(input)} was already used for a different message; use a new ${keyName(input)}`);
  }
  const inProgress = () => conflict(`A request with this ${keyName(input)} is still in progress; retry shortly`);
  if (existing.seq !== undefined) {
    let there = await deps.channels.getEntry(channel, existing.seq);
    const reservedAt = existing.reservedAt ?? existing.claimedAt;
    if (!there && now() - reservedAt >= (deps.gapHealAfterMs ?? GAP_HEAL_AFTER_MS)) there = await fillGap(deps, channel, existing.seq);
    if (there?.id === existing.entryId) return { replay: there };
    if (!there) throw inProgress();
    // The seq went to a tombstone: that attempt stored nothing, so this one may.
  } else if (now() - existing.claimedAt < (deps.claimLeaseMs ?? CLAIM_LEASE_MS)) {
    throw inProgress();
  }
  // Take the claim over (keeping its entry id); if someone else just did, they are in progress.
  const takenAt = Math.max(now(), existing.claimedAt + 1);
  if (!(await deps.channels.takeOverClaim(channel, key, existing.claimedAt, takenAt))) throw inProgress();
  return { key, entryId: existing.entryId, claimedAt: takenAt };
}

function fingerprintOf(input: AppendInput): string {
  if (input.fingerprint === undefined && typeof input.data === 'function') {
    throw new TypeError('append: an idempotent append whose data is built from its seq needs a `fingerprint`');
  }
  return createHash('sha256')
    .update(input.fingerprint ?? JSON.stringify(input.data) ?? '')
    .digest('base64url');
}

async function publish(deps: ChannelLogDeps, entry: LogEntry): Promise<boolean> {
  const payload = encodeEnvelope({
    v: ENVELOPE_VERSION,
    kind: 'message',
    channel: entry.channel,
    seq: entry.seq,
    id: entry.id,
    event: entry.event,
    data: entry.data,
    ts: entry.ts,
  });
  const timeoutMs = deps.publishTimeoutMs ?? PUBLISH_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      deps.publisher.publish(entry.channel, payload),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`publish to ${entry.channel} took longer than ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return true;
  } catch (err) {
    deps.onPublishError?.(err, entry);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export interface LogPage {
  /** Ascending, without holes: every seq from `afterSeq + 1` on, tombstones included. */
  entries: LogEntry[];
  /** Pass as `afterSeq` for the next page; null when this page reached the (current) end. */
  nextAfterSeq: number | null;
}

/**
 * Up to `limit` entries after `afterSeq`, with no seq skipped: a hole past the
 * gap bound is filled with a tombstone here, and the page ends before a
 * younger hole (its writer may still be at work).
 */
export async function read(
  deps: Pick<ChannelLogDeps, 'channels' | 'now' | 'gapHealAfterMs'>,
  channel: string,
  afterSeq: number,
  limit: number,
): Promise<LogPage> {
  const [head, stored] = await Promise.all([deps.channels.head(channel), deps.channels.listEntries(channel, afterSeq, limit)]);
  const now = (deps.now ?? Date.now)();
  const bound = deps.gapHealAfterMs ?? GAP_HEAL_AFTER_MS;
  const end = stored.length === limit ? stored.at(-1)!.seq : Math.max(head.lastSeq, stored.at(-1)?.seq ?? afterSeq);
  const slots: Array<LogEntry | number> = [];
  let next = 0;
  for (let seq = afterSeq + 1; seq <= end && slots.length < limit; seq++) {
    const entry = stored[next];
    if (entry?.seq === seq) {
      slots.push(entry);
      next++;
      continue;
    }
    // An empty seq was reserved no later than the next stored entry was (or the counter's last reservation).
    const reservedBy = entry ? entry.ts : head.reservedAt;
    if (now - reservedBy < bound) break;
    slots.push(seq);
  }
  const entries = await Promise.all(slots.map((slot) => (typeof slot === 'number' ? fillGap(deps, channel, slot) : slot)));
  return { entries, nextAfterSeq: entries.length === limit ? entries.at(-1)!.seq : null };
}

const keyName = (input: AppendInput) => input.keyName ?? 'idempotency key';

const unavailable = (message: string, cause?: unknown) => new DomainError(ErrorCode.Unavailable, message, { cause });
