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
 *   A seq that is reserved but still empty `gapHealAfterMs` (15 s) after its
 *   reservation is filled with a tombstone (`event: "gap"`, `data: null`) by
 *   the first reader or retry that finds it, with the same conditional put, so
 *   a tombstone never overwrites an entry. A writer slower than that finds
 *   the tombstone in its place and reports the message as not stored.
 *
 * The bound exceeds the function timeout (10 s): a healthy writer, however
 * slow its DynamoDB calls (2 attempts × (1 s connect + 1.5 s request) each),
 * is stopped by Lambda before its seq can be taken from it; the 5 s beyond
 * cover a request sent just before that and clock skew between containers.
 *
 * A hole's reservation time is bounded from above by the `ts` of any later
 * entry (taken after that entry's reservation, which came after the hole's),
 * or, at the end of the log, by the counter's last reservation time. History
 * never skips a seq it cannot account for: it stops before a hole younger
 * than the bound and says when to ask again (`retryAfterMs`). So a client
 * waits at most about the bound for a seq, and every seq ends up holding
 * exactly one item. Timing decides only who wins a seq (the writer or the
 * tombstone), never whether a seq can be doubled or left empty for good.
 *
 * Retention. With `retentionMs`, every entry and tombstone carries
 * `expiresAt` (epoch seconds, the table's TTL attribute), and DynamoDB deletes
 * it some time after. An empty seq may then be a hole or a deleted entry; it
 * is filled with a tombstone only when nothing there can have expired yet,
 * judged from a lower bound on when it was written (the counter's creation,
 * or an entry below it: a later seq's `ts` is at most the bound earlier).
 * Otherwise it is skipped, never resurrected as a tombstone, and the page
 * reports that history starts later (`firstSeq`). Expired items DynamoDB has
 * not deleted yet are skipped the same way. The counter item never expires.
 *
 * Idempotency. With a key, the sender first claims `(channel, key)`, then
 * records on the claim the seq it reserved before writing there. A retry finds
 * the claim and looks at that seq: our entry (replayed and published again,
 * since the first attempt may have died before publishing; clients dedupe by
 * seq), a tombstone (that attempt stored nothing: the retry takes the claim
 * over and stores it), or still empty (in progress until the gap bound, then
 * filled and taken over). A claim with no seq yet is in progress for
 * `claimLeaseMs`, which must exceed the function timeout.
 *
 * Publishing comes last and never fails the append: the entry is stored, and
 * the result says whether the publish went through (within `publishTimeoutMs`).
 */
import { createHash } from 'node:crypto';
import { withTimeout } from '../../shared/with-timeout.js';
import { checkJsonShape, encodeEnvelope, ENVELOPE_SHAPE, ENVELOPE_VERSION, MAX_ENVELOPE_BYTES } from '../../protocol/index.js';
import { ErrorCode } from '../../protocol/codes.js';
import { EVENT_PATTERN } from '../../protocol/frames.js';
import { badRequest, conflict, DomainError } from './errors.js';
import { newMessageId } from './ids.js';
import type { ChannelStore, LogClaim, LogEntry, Publisher } from './ports.js';

/** The event of a tombstone: a seq that holds no message. Clients skip it (its seq is used up). */
export const GAP_EVENT = 'gap';
/** How long a reserved seq may stay empty before it is filled with a tombstone; above the function timeout (10 s), see above. */
export const GAP_HEAL_AFTER_MS = 15_000;
/** How long a claim with no seq yet counts as in progress; must exceed the function timeout (10 s). */
export const CLAIM_LEASE_MS = 30_000;
/** How long the append waits for the publish before answering `published: false`. */
export const PUBLISH_TIMEOUT_MS = 1_000;
/**
 * Largest envelope an entry may make, in UTF-8 bytes: under the relay's
 * MAX_ENVELOPE_BYTES, and (DynamoDB stores numbers and lists in up to 1.5×
 * their JSON size) under DynamoDB's 400 KB item limit.
 */
export const MAX_ENTRY_BYTES = Math.min(200 * 1024, MAX_ENVELOPE_BYTES);

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
  /** How long entries are kept (`expiresAt`); whole days, so never shorter than a claim's 24 h. @default undefined (forever) */
  retentionMs?: number;
  /** Told about a publish that failed or timed out after the entry was stored. */
  onPublishError?: (error: unknown, entry: LogEntry) => void;
  /**
   * When the caller must have its answer (epoch ms; in Lambda, the invocation's end).
   * An entry is written only while its write and publish can still finish before it:
   * an answer cut off by the function timeout after the entry was stored would invite
   * a retry that stores it twice. @default none
   */
  deadline?: number;
  /** @default WRITE_BUDGET_MS */
  writeBudgetMs?: number;
}

/**
 * What the write and the publish may take at worst: the put's two attempts of
 * (1 s connect + 1.5 s request) plus backoff (shared/dynamo-client.ts), and the publish.
 */
export const WRITE_BUDGET_MS = 6_500;

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
  /** False when this was a retry of an already stored entry (published again: clients dedupe by seq). */
  created: boolean;
  /** Whether the envelope was published. The entry is stored either way. */
  published: boolean;
}

type DataBuilder = (meta: EntryMeta) => unknown;

export async function append(deps: ChannelLogDeps, channel: string, input: AppendInput): Promise<AppendResult> {
  if (!EVENT_PATTERN.test(input.event)) throw new TypeError(`append: event "${input.event}" must be 1-64 of A-Z a-z 0-9 _ . : -`);
  const now = deps.now ?? Date.now;
  const build = (meta: EntryMeta) => (typeof input.data === 'function' ? (input.data as DataBuilder)(meta) : input.data);

  // 0. Refuse a payload every relay would drop, before anything is written (a seq's widest form stands in for the real one).
  checkPayload(channel, input.event, build({ channel, seq: Number.MAX_SAFE_INTEGER, id: newMessageId(), ts: now() }));

  // 1. Claim the idempotency key, or find what an earlier attempt with it stored (and publish it again).
  const claim = input.idempotencyKey === undefined ? null : await claimOrReplay(deps, channel, input, input.idempotencyKey);
  if (claim && 'replay' in claim) return { entry: claim.replay, created: false, published: await publish(deps, claim.replay) };

  // 2. Reserve the seq: one atomic counter update, which no other writer can make fail.
  const seq = await deps.channels.reserveSeq(channel, now());
  const ts = now();

  // 3. Record the seq on the claim before writing there, so that a retry can find the entry.
  if (claim && !(await deps.channels.recordClaimSeq(channel, claim.key, claim.claimedAt, seq, ts))) {
    await fillGap(deps, channel, seq).catch(() => {}); // the seq stays unused: close it now rather than after the bound
    throw conflict(`Another request took this ${keyName(input)} over; retry to get the stored message`);
  }

  // 4. Write the entry at that seq, if its answer can still reach the caller. Otherwise the
  // seq stays empty and the gap rule fills it; a retry (same key) finds it so and stores.
  if (deps.deadline !== undefined && now() > deps.deadline - (deps.writeBudgetMs ?? WRITE_BUDGET_MS)) {
    // Tombstone our own seq now (within what time is left), so that a retry stores at once
    // instead of waiting out the gap bound; if that does not finish either, the gap rule does it.
    const left = deps.deadline - now() - 300;
    if (left > 0) await withTimeout(fillGap(deps, channel, seq), left, 'no time left').catch(() => {});
    throw unavailable(`Message to ${channel} was not stored: the database was too slow to finish in time; retry${claim ? ` with the same ${keyName(input)}` : ''}`);
  }
  const id = claim?.entryId ?? newMessageId();
  const entry: LogEntry = { channel, seq, id, event: input.event, data: build({ channel, seq, id, ts }), ts, ...expiry(deps, ts) };
  await write(deps, entry, input);

  // 5. Publish. The entry is stored whatever happens here.
  return { entry, created: true, published: await publish(deps, entry) };
}

/** 400 for data nested deeper (or with more members) than a relay accepts in an envelope, 413 for one larger than MAX_ENTRY_BYTES. */
export function checkPayload(channel: string, event: string, data: unknown): void {
  const text = encodeEnvelope({ v: ENVELOPE_VERSION, kind: 'message', channel, seq: Number.MAX_SAFE_INTEGER, id: newMessageId(), event, data, ts: Date.now() });
  const problem = checkJsonShape(text, ENVELOPE_SHAPE);
  if (problem?.bound === 'depth') throw badRequest(`data: nested deeper than ${problem.limit - 1} levels`);
  if (problem) throw badRequest(`data: more than ${problem.limit} object members and array items`);
  if (Buffer.byteLength(text, 'utf8') > MAX_ENTRY_BYTES) {
    throw new DomainError(ErrorCode.PayloadTooLarge, `data: larger than ${MAX_ENTRY_BYTES} bytes as JSON (with the envelope around it)`);
  }
}

/** The TTL attribute of an item written at `ts`: DynamoDB may delete it from then on (rounded up, so never before ts + retention). */
export function expiry(deps: Pick<ChannelLogDeps, 'retentionMs'>, ts: number): { expiresAt?: number } {
  return deps.retentionMs === undefined ? {} : { expiresAt: Math.ceil((ts + deps.retentionMs) / 1000) };
}

async function write(deps: ChannelLogDeps, entry: LogEntry, input: AppendInput): Promise<void> {
  const unknownOutcome = (err: unknown) =>
    unavailable(`Storing the message to ${entry.channel} failed with an unknown outcome; retry with the same ${keyName(input)}`, err);
  let stored: boolean;
  try {
    stored = await deps.channels.putEntry(entry);
  } catch (err) {
    // Outcome unknown (a timeout, say): settle it by filling the seq ourselves. Either
    // our entry is there (stored after all) or the tombstone is (stored nothing).
    const there = await fillGap(deps, entry.channel, entry.seq).catch(() => null);
    if (there?.id === entry.id) return;
    throw there ? unavailable(`Message to ${entry.channel} was not stored; retry the request`, err) : unknownOutcome(err);
  }
  if (stored) return;
  // The seq is taken: by our own write (the SDK retried it after a lost response), or by
  // a tombstone because we took longer than the gap bound to get here. If we cannot
  // look, the entry may well be stored: only a retry with the same key is safe.
  let there: LogEntry | null;
  try {
    there = await deps.channels.getEntry(entry.channel, entry.seq);
  } catch (err) {
    throw unknownOutcome(err);
  }
  if (there?.id !== entry.id) throw unavailable(`Message to ${entry.channel} was not stored (too slow to write its seq); retry the request`);
}

/** What became of an entry put at its seq: see `settle`. */
export type Settled = 'stored' | 'taken' | 'unknown';

/**
 * Puts the entry at its seq (put-if-empty) and decides what became of it, for
 * callers that report per entry rather than throw (notifications, read events):
 * `stored` (ours is there), `taken` (another item holds the seq: ours never
 * will), or `unknown` (the put's outcome is unknown and the seq could not be
 * read or filled: the entry may be stored, or may still land).
 */
export async function settle(deps: Pick<ChannelLogDeps, 'channels' | 'now' | 'retentionMs'>, entry: LogEntry): Promise<Settled> {
  let put: boolean | null;
  try {
    put = await deps.channels.putEntry(entry);
  } catch {
    put = null;
  }
  if (put) return 'stored';
  try {
    // Taken: by our own put (the SDK retried it after a lost answer) or by another item; look.
    // Unknown: fill the seq ourselves, so that either our entry is there or the tombstone is.
    const there = put === false ? await deps.channels.getEntry(entry.channel, entry.seq) : await fillGap(deps, entry.channel, entry.seq);
    return there?.id === entry.id ? 'stored' : 'taken';
  } catch {
    return 'unknown';
  }
}

/** Fills an empty `seq` with a tombstone; returns what the seq holds afterwards (the tombstone, or the entry that won). */
export async function fillGap(deps: Pick<ChannelLogDeps, 'channels' | 'now' | 'retentionMs'>, channel: string, seq: number): Promise<LogEntry> {
  const ts = (deps.now ?? Date.now)();
  const tombstone: LogEntry = { channel, seq, id: `gap-${seq}`, event: GAP_EVENT, data: null, ts, ...expiry(deps, ts) };
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
  const bound = deps.gapHealAfterMs ?? GAP_HEAL_AFTER_MS;
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
    if (!there && now() - reservedAt >= bound) {
      // An entry written there carries ts = reservedAt; if it may have expired, a tombstone would resurrect its seq.
      if (deps.retentionMs !== undefined && now() >= reservedAt - bound + deps.retentionMs) {
        throw conflict(`This ${keyName(input)} is older than the message retention period; use a new ${keyName(input)}`);
      }
      there = await fillGap(deps, channel, existing.seq);
    }
    if (there?.id === existing.entryId) return { replay: there };
    if (!there) throw inProgress();
    // The seq went to a tombstone: that attempt stored nothing, so this one may.
  } else if (now() - existing.claimedAt < (deps.claimLeaseMs ?? CLAIM_LEASE_MS)) {
    throw inProgress();
  }
  // Take the claim over (keeping its entry id); if someone else just did, they are in progress.
  // `attempt` tells our own takeover (its response lost, the SDK's retry refused) from a concurrent one in the same ms.
  const takenAt = Math.max(now(), existing.claimedAt + 1);
  if (!(await deps.channels.takeOverClaim(channel, key, existing.claimedAt, takenAt, newMessageId()))) throw inProgress();
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

export async function publish(deps: ChannelLogDeps, entry: LogEntry): Promise<boolean> {
  const now = (deps.now ?? Date.now)();
  // Never past the deadline: the entry is stored, and the answer must get out.
  const timeoutMs = Math.max(0, Math.min(deps.publishTimeoutMs ?? PUBLISH_TIMEOUT_MS, (deps.deadline ?? Infinity) - now - 300));
  try {
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
    await withTimeout(deps.publisher.publish(entry.channel, payload), timeoutMs, `publish to ${entry.channel} took longer than ${timeoutMs} ms`);
    return true;
  } catch (err) {
    // The entry is stored: a failing report must not turn that into an error.
    try {
      deps.onPublishError?.(err, entry);
    } catch {
      // nothing more to do; the caller learns `published: false`
    }
    return false;
  }
}

export interface LogPage {
  /** Ascending, without holes: every seq from `afterSeq + 1` (or `firstSeq`) on, tombstones included. */
  entries: LogEntry[];
  /**
   * Pass as `afterSeq` for the next page; null only when this page reached the
   * current end of the log. Never null when the page stopped at a young hole.
   */
  nextAfterSeq: number | null;
  /** Present when the page stopped before a seq that is reserved but not written yet: ask again after this long (ms). */
  retryAfterMs?: number;
  /** Present when the log no longer holds seqs `afterSeq + 1` … `firstSeq - 1` (they expired): history starts here. */
  firstSeq?: number;
}

type ReadDeps = Pick<ChannelLogDeps, 'channels' | 'now' | 'gapHealAfterMs' | 'retentionMs'>;

/**
 * Up to `limit` entries after `afterSeq`. A hole past the gap bound is filled
 * with a tombstone here; the page ends before a younger hole (its writer may
 * still be at work). With retention, seqs that expired (or may have: see the
 * module comment) are skipped together with everything below them, so the
 * page is always "nothing before `firstSeq`, then every seq".
 */
export async function read(deps: ReadDeps, channel: string, afterSeq: number, limit: number): Promise<LogPage> {
  const [head, stored] = await Promise.all([deps.channels.head(channel), deps.channels.listEntries(channel, afterSeq, limit)]);
  const now = (deps.now ?? Date.now)();
  const bound = deps.gapHealAfterMs ?? GAP_HEAL_AFTER_MS;
  const retention = deps.retentionMs;
  // Lower bound on the ts of anything at a seq not yet passed: the counter's creation, then each
  // entry passed (a later seq's ts is at most `bound` before it: Lambda stops its writer sooner).
  let lowest = head.firstAt === undefined ? -Infinity : head.firstAt - bound;
  const mayHaveExpired = () => retention !== undefined && now >= lowest + retention;
  const isExpired = (e: LogEntry) => e.expiresAt !== undefined && e.expiresAt * 1000 <= now;

  // Each stored item bounds the empty seqs below it; when the query reached the end, the counter bounds those after the last.
  const full = stored.length === limit;
  const end = { seq: Math.max(head.lastSeq, stored.at(-1)?.seq ?? 0) + 1, ts: head.reservedAt };
  const marks: Array<LogEntry | typeof end> = full ? stored : [...stored, end];

  const slots: Array<LogEntry | number> = []; // entries, and seqs to fill with a tombstone
  let pos = afterSeq; // every seq up to here is accounted for
  let firstSeq: number | undefined;
  let retryAfterMs: number | undefined;
  let atEnd = false;
  const skipThrough = (seq: number) => {
    slots.length = 0;
    firstSeq = seq + 1;
    pos = seq;
  };
  walk: for (const mark of marks) {
    if (slots.length === limit) break;
    if (mark.seq > pos + 1) {
      // Seqs pos+1 … mark.seq-1 hold nothing; each was reserved no later than mark's ts.
      const age = now - mark.ts;
      if (age < bound) {
        retryAfterMs = Math.ceil(bound - age);
        break;
      }
      if (mayHaveExpired() && pos === afterSeq && afterSeq > 0) {
        // The entry the client already has dates what follows it (one read, only when it decides).
        const below = await deps.channels.getEntry(channel, afterSeq);
        if (below && below.event !== GAP_EVENT) lowest = Math.max(lowest, below.ts - bound);
      }
      if (mayHaveExpired()) skipThrough(mark.seq - 1);
      else {
        for (let seq = pos + 1; seq < mark.seq; seq++) {
          if (slots.length === limit) break walk;
          slots.push(seq);
          pos = seq;
        }
      }
    }
    if (mark === end) {
      atEnd = true;
      break;
    }
    const entry = mark as LogEntry;
    if (slots.length === limit) break;
    if (isExpired(entry)) skipThrough(entry.seq);
    else slots.push(entry);
    pos = entry.seq;
    if (entry.event !== GAP_EVENT) lowest = Math.max(lowest, entry.ts - bound);
  }
  const entries = await Promise.all(slots.map((slot) => (typeof slot === 'number' ? fillGap(deps, channel, slot) : slot)));
  return {
    entries,
    nextAfterSeq: atEnd ? null : pos,
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(firstSeq !== undefined && { firstSeq }),
  };
}

const keyName = (input: AppendInput) => input.keyName ?? 'idempotency key';

const unavailable = (message: string, cause?: unknown) => new DomainError(ErrorCode.Unavailable, message, { cause });
