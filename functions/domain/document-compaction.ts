/**
 * A document's state, and its compaction. The state of `document:{docId}` is
 *
 *     snapshot(S) + every entry with seq > S, in seq order
 *
 * where snapshot(S) is the merged state of entries 1 … S exactly (none at all
 * before the first compaction). Compaction computes that sum up to the last
 * seq the log can account for and stores it as the new snapshot, so the part a
 * reader has to apply stays short.
 *
 * Why it is safe against concurrent appends:
 * - The log is read through the channel log (`read`), which never skips a seq:
 *   a seq reserved but not yet written ends the read there (or, past the gap
 *   bound, is filled with a tombstone). So a snapshot at S holds exactly the
 *   updates of seqs 1 … S — none missing, none twice. Appends after S stay in
 *   the log and are applied on read.
 * - The snapshot pointer is written only while the stored one has a lower seq
 *   (a conditional put): two compactions racing, or a slow one finishing after
 *   a newer one, can never move it back. A reader that saw snapshot S never
 *   later sees one below S, and since log entries are never deleted, state read
 *   later always contains state read earlier.
 * - A snapshot too large for an item (INLINE_SNAPSHOT_MAX_BYTES) goes to S3
 *   first, under a key of its own per compaction attempt (seq + a random
 *   suffix: two compactions reaching the same seq never share a key), then the
 *   pointer. An object is never overwritten; a pointer never names an object
 *   not yet written. A key is deleted only when the live pointer cannot name
 *   it: our own after our pointer write was refused, or keys below the seq of a
 *   pointer we wrote (a reader that read the old pointer and finds its object
 *   gone reads the pointer again). Should the object the live pointer names be
 *   missing anyway, readers rebuild the state from the whole log (its entries
 *   are never deleted) instead of failing, and the next compaction replaces it.
 *
 * Compacted entries stay in the log: they are what a client that knows seq N
 * catches up with (`GET /channels/document%3A{docId}/messages?afterSeq=N`),
 * and they are the record the snapshot was built from. They are written
 * without `expiresAt` (message retention does not apply to documents: until
 * compacted, they are the document).
 *
 * Where it runs: inline, after the append that makes it due (every
 * COMPACT_EVERY_UPDATES seqs, or after an update of COMPACT_LARGE_UPDATE_BYTES
 * or more), and only while COMPACTION_BUDGET_MS remain before the function's
 * deadline. If it fails or has no time, the log simply stays longer until the
 * next due append; nothing depends on a compaction finishing.
 */
import { randomBytes } from 'node:crypto';
import { documentChannel } from '../../protocol/index.js';
import { DOCUMENT_UPDATE_EVENT, type DocumentUpdateEntry } from '../../protocol/documents.js';
import { GAP_EVENT, read, type ChannelLogDeps } from './channel-log.js';
import type { DocumentStore, SnapshotObjects, SnapshotPointer } from './document-ports.js';
import { fromBase64, mergeState } from './document-state.js';

/** Compact when an append's seq is a multiple of this. */
export const COMPACT_EVERY_UPDATES = 100;
/** …or when the update appended is at least this large, so a few big pastes do not make every read heavy. */
export const COMPACT_LARGE_UPDATE_BYTES = 16 * 1024;
/** Snapshots up to this size are stored in the pointer item itself (DynamoDB items hold 400 KB); larger ones in S3. */
export const INLINE_SNAPSHOT_MAX_BYTES = 350 * 1024;
/** A compaction starts only with at least this much time left before the deadline. */
export const COMPACTION_BUDGET_MS = 3_000;
/** Entries read per page of the log. */
const LOG_PAGE = 500;
/** Times a reader re-reads the pointer when the object it named was replaced meanwhile. */
const SNAPSHOT_READ_ATTEMPTS = 3;

export interface DocumentStateDeps extends Pick<ChannelLogDeps, 'channels' | 'now' | 'gapHealAfterMs'> {
  documents: DocumentStore;
  snapshots: SnapshotObjects;
  /** @default INLINE_SNAPSHOT_MAX_BYTES */
  inlineSnapshotMaxBytes?: number;
  /** Told when a read had to work around damage (the state is still served): for the logs. */
  onStateProblem?: (docId: string, problem: StateProblem) => void;
}

/** Damage a read worked around: a lost snapshot object (rebuilt from the log), or stored updates Yjs could not apply (left out). */
export type StateProblem = { kind: 'snapshot_missing'; seq: number; objectKey: string } | { kind: 'bad_updates'; seqs: number[]; error: unknown };

export interface LoadedState {
  /** snapshot + log tail, merged into one Yjs update. */
  state: Uint8Array;
  /** The last seq it reflects (every seq up to it is in). */
  seq: number;
  /** The snapshot it started from (null: none yet, the whole log was read). */
  snapshot: SnapshotPointer | null;
  /** Entries read after the snapshot (tombstones included), and their updates' total size in bytes. */
  tailEntries: number;
  tailBytes: number;
  /** Seqs of stored updates that Yjs refused to apply, left out of `state` (see mergeState). */
  badSeqs: number[];
  /** Present when the read stopped before a seq still being written: it is not in `state`. */
  retryAfterMs?: number;
}

/** S3 key of one compaction attempt's snapshot of `docId` at `seq`: unique per attempt, never overwritten. */
export const snapshotKey = (docId: string, seq: number): string =>
  `${snapshotPrefix(docId)}${String(seq).padStart(12, '0')}-${randomBytes(8).toString('hex')}`;
export const snapshotPrefix = (docId: string): string => `snapshots/${docId}/`;
/** The seq a key was written at (NaN for a key this module did not write, which is then never deleted). */
const seqOfKey = (key: string): number => Number(/^(\d{12})(?:-[0-9a-f]+)?$/.exec(key.slice(key.lastIndexOf('/') + 1))?.[1]);

/** Whether the append that got `seq` for an update of `updateBytes` should compact. */
export const compactionDue = (seq: number, updateBytes: number): boolean =>
  seq % COMPACT_EVERY_UPDATES === 0 || updateBytes >= COMPACT_LARGE_UPDATE_BYTES;

/**
 * The snapshot pointer and its bytes, read consistently (see SNAPSHOT_READ_ATTEMPTS).
 * `bytes` null with a pointer: its object is gone though no newer pointer
 * replaced it; the caller rebuilds from the log.
 */
async function readSnapshot(deps: DocumentStateDeps, docId: string): Promise<{ pointer: SnapshotPointer | null; bytes: Uint8Array | null }> {
  let pointer = await deps.documents.getSnapshot(docId);
  for (let attempt = 0; attempt < SNAPSHOT_READ_ATTEMPTS; attempt++) {
    if (!pointer) return { pointer: null, bytes: null };
    if (pointer.data) return { pointer, bytes: pointer.data };
    const bytes = await deps.snapshots.get(pointer.objectKey!);
    if (bytes) return { pointer, bytes };
    // Gone: either a newer snapshot replaced it after we read the pointer (read it again),
    // or the live pointer names a lost object (the same pointer again: rebuild from the log).
    const again = await deps.documents.getSnapshot(docId);
    if (again?.objectKey === pointer.objectKey && again?.seq === pointer.seq) break;
    pointer = again;
  }
  if (pointer) deps.onStateProblem?.(docId, { kind: 'snapshot_missing', seq: pointer.seq, objectKey: pointer.objectKey! });
  return { pointer, bytes: null };
}

/** The document's current state: the snapshot, then every entry after it that the log can account for. */
export async function loadState(deps: DocumentStateDeps, docId: string): Promise<LoadedState> {
  const { pointer, bytes } = await readSnapshot(deps, docId);
  const rebuilt = pointer !== null && bytes === null;
  // No retention here: document entries never expire, and a hole must become a tombstone, never "expired".
  const logDeps = { channels: deps.channels, now: deps.now, gapHealAfterMs: deps.gapHealAfterMs };
  const channel = documentChannel(docId);
  const updates: Uint8Array[] = [];
  const updateSeqs: number[] = [];
  // Rebuilding (the snapshot's object is lost): from seq 0, since log entries are never deleted.
  let seq = rebuilt ? 0 : (pointer?.seq ?? 0);
  let tailEntries = 0;
  let tailBytes = 0;
  let retryAfterMs: number | undefined;
  for (;;) {
    const page = await read(logDeps, channel, seq, LOG_PAGE);
    for (const entry of page.entries) {
      tailEntries++;
      seq = entry.seq;
      if (entry.event !== DOCUMENT_UPDATE_EVENT) continue; // a tombstone: that seq holds nothing
      const update = fromBase64((entry.data as DocumentUpdateEntry).update);
      tailBytes += update.length;
      updates.push(update);
      updateSeqs.push(entry.seq);
    }
    if (page.retryAfterMs !== undefined) retryAfterMs = page.retryAfterMs;
    if (page.nextAfterSeq === null || page.retryAfterMs !== undefined || page.entries.length === 0) break;
    seq = page.nextAfterSeq;
  }
  const badSeqs: number[] = [];
  let firstError: unknown;
  const state = mergeState(bytes, updates, (index, error) => {
    badSeqs.push(updateSeqs[index]!);
    firstError ??= error;
  });
  if (badSeqs.length > 0) deps.onStateProblem?.(docId, { kind: 'bad_updates', seqs: badSeqs, error: firstError });
  return {
    state,
    seq,
    snapshot: pointer,
    tailEntries,
    tailBytes,
    badSeqs,
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  };
}

export interface CompactionResult {
  /** False when there was nothing new to fold in, or a newer snapshot was written meanwhile. */
  compacted: boolean;
  /** The seq of the snapshot now stored (ours, or the newer one). */
  seq: number;
  /** Before: the snapshot's size and the log tail applied on every read. */
  before: { snapshotSeq: number; snapshotBytes: number; tailEntries: number; tailBytes: number };
  /** After: the new snapshot's size and where it went. */
  snapshotBytes: number;
  storage: 'inline' | 's3';
}

/** Folds every entry the log can account for into a new snapshot (see the module comment for why this is safe). */
export async function compact(deps: DocumentStateDeps, docId: string): Promise<CompactionResult> {
  const now = (deps.now ?? Date.now)();
  const loaded = await loadState(deps, docId);
  const previous = loaded.snapshot;
  const before = { snapshotSeq: previous?.seq ?? 0, snapshotBytes: previous?.bytes ?? 0, tailEntries: loaded.tailEntries, tailBytes: loaded.tailBytes };
  const inline = loaded.state.length <= (deps.inlineSnapshotMaxBytes ?? INLINE_SNAPSHOT_MAX_BYTES);
  const result = (compacted: boolean, seq: number): CompactionResult => ({
    compacted,
    seq,
    before,
    snapshotBytes: loaded.state.length,
    storage: inline ? 'inline' : 's3',
  });
  if (loaded.seq <= before.snapshotSeq) return result(false, before.snapshotSeq);

  const pointer: SnapshotPointer = { docId, seq: loaded.seq, bytes: loaded.state.length, compactedAt: now };
  if (inline) pointer.data = loaded.state;
  else {
    // The object first: a pointer never names an object that is not there yet.
    pointer.objectKey = snapshotKey(docId, loaded.seq);
    await deps.snapshots.put(pointer.objectKey, loaded.state);
  }
  if (!(await deps.documents.putSnapshot(pointer))) {
    // A snapshot at this seq or later is stored already: ours is not needed. The key is
    // this attempt's alone, so the live pointer cannot name it. (Only on a definite refusal:
    // a write that threw may have stored the pointer, and its object must then stay.)
    if (pointer.objectKey) await deps.snapshots.delete([pointer.objectKey]).catch(() => {});
    return result(false, (await deps.documents.getSnapshot(docId))?.seq ?? loaded.seq);
  }
  if (previous?.objectKey || pointer.objectKey) await deleteOlderObjects(deps, docId, loaded.seq).catch(() => {});
  return result(true, loaded.seq);
}

/**
 * Deletes the document's objects below `seq` (the pointer is at `seq` or above now):
 * the one the previous pointer named, and any left by a compaction that lost a race
 * or died between its object and its pointer. Objects above `seq` are a newer
 * compaction's, in flight or current, and stay.
 */
async function deleteOlderObjects(deps: DocumentStateDeps, docId: string, seq: number): Promise<void> {
  const keys = await deps.snapshots.list(snapshotPrefix(docId));
  const older = keys.filter((key) => seqOfKey(key) < seq);
  if (older.length > 0) await deps.snapshots.delete(older);
}
