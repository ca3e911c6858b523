/**
 * The Yjs side of documents, as plain functions over bytes: check that an
 * update decodes, merge a snapshot and log updates into one state, and answer
 * only what a client lacks given its state vector (the y-protocols
 * SyncStep1 / SyncStep2 exchange, over HTTP). No I/O.
 *
 * Yjs updates are idempotent and commutative: applying one twice, or in any
 * order, gives the same document. The log's seq bookkeeping is exact anyway
 * (document-compaction.ts), so nothing depends on that forgiveness.
 */
import * as Y from 'yjs';
import { BASE64_PATTERN, BASE64_QUERY_PATTERN, MAX_DOCUMENT_UPDATE_BYTES, MAX_STATE_VECTOR_BYTES } from '../../protocol/documents.js';
import { ErrorCode } from '../../protocol/codes.js';
import { badRequest, DomainError } from './errors.js';

/**
 * Most clock units one update may claim without content behind them: GC and
 * Skip structs, deleted-content items, and delete-set ranges each cost a few
 * bytes whatever their length. A GC struct at another client's current clock
 * with a huge length would advance that client's clock in the document, and
 * every later edit of theirs would then be dropped as already known; a huge
 * delete range would delete their future edits. 16 Mi units is more than an
 * honest update holds (it would be the garbage of 16 million deleted
 * characters), and bounds what one update can do. It is a bound, not a cure:
 * see docs/documents.md (client ids are not yet bound to users).
 */
export const MAX_UPDATE_CONTENTLESS_CLOCKS = 2 ** 24;

/**
 * The update's bytes, or a 400 saying why they are not a Yjs update (413 when
 * over MAX_DOCUMENT_UPDATE_BYTES). It must decode (Y.decodeUpdate), claim at
 * most MAX_UPDATE_CONTENTLESS_CLOCKS clock units without content, and apply
 * to an empty document without throwing; none of it leaves any trace.
 */
export function checkUpdate(base64: string, where = 'body.update'): Uint8Array {
  if (!BASE64_PATTERN.test(base64)) throw badRequest(`${where}: must be base64 (standard alphabet, padded)`);
  if (base64.length > Math.ceil(MAX_DOCUMENT_UPDATE_BYTES / 3) * 4) {
    throw new DomainError(ErrorCode.PayloadTooLarge, `${where}: larger than ${MAX_DOCUMENT_UPDATE_BYTES} bytes decoded; send the change as several updates`);
  }
  const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
  if (bytes.length > MAX_DOCUMENT_UPDATE_BYTES) {
    throw new DomainError(ErrorCode.PayloadTooLarge, `${where}: larger than ${MAX_DOCUMENT_UPDATE_BYTES} bytes decoded; send the change as several updates`);
  }
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(bytes);
    Y.applyUpdate(new Y.Doc(), bytes);
  } catch {
    throw badRequest(`${where}: not a Yjs update (format v1, as Y.encodeStateAsUpdate or a Y.Doc 'update' event gives)`);
  }
  if (contentlessClocks(decoded) > MAX_UPDATE_CONTENTLESS_CLOCKS) {
    throw badRequest(`${where}: claims more than ${MAX_UPDATE_CONTENTLESS_CLOCKS} clock units without content (garbage, skipped or deleted ranges); send real edits`);
  }
  return bytes;
}

/** Clock units the update claims that its bytes do not carry: GC/Skip structs, deleted-content items, delete-set ranges. */
function contentlessClocks(update: ReturnType<typeof Y.decodeUpdate>): number {
  let total = 0;
  for (const struct of update.structs) {
    if (struct instanceof Y.GC || struct instanceof Y.Skip || (struct instanceof Y.Item && struct.content instanceof Y.ContentDeleted)) total += struct.length;
  }
  for (const ranges of update.ds.clients.values()) for (const range of ranges) total += range.len;
  return total;
}

/** A client's state vector from the query string, or a 400. */
export function checkStateVector(encoded: string, where = 'query.stateVector'): Uint8Array {
  if (!BASE64_QUERY_PATTERN.test(encoded)) throw badRequest(`${where}: must be base64url (or base64)`);
  const bytes = new Uint8Array(Buffer.from(encoded, encoded.includes('+') || encoded.includes('/') ? 'base64' : 'base64url'));
  if (bytes.length > MAX_STATE_VECTOR_BYTES) throw badRequest(`${where}: larger than ${MAX_STATE_VECTOR_BYTES} bytes`);
  try {
    Y.decodeStateVector(bytes);
  } catch {
    throw badRequest(`${where}: not a Yjs state vector (Y.encodeStateVector)`);
  }
  return bytes;
}

/**
 * One update holding the base (a snapshot, or nothing) and every update, in
 * order. Applied to a document and encoded again, so deleted content is
 * garbage-collected and the result is as small as Yjs makes it; updates whose
 * dependencies are missing stay in it as pending structs (Yjs encodes them too).
 *
 * Each update is applied on its own: one that throws (stored before a check
 * caught its kind, or failing only on top of others) is left out and reported
 * to `onBadUpdate` with its index, so one bad entry cannot make the document
 * unreadable, nor block every later compaction.
 */
export function mergeState(
  base: Uint8Array | null,
  updates: readonly Uint8Array[],
  onBadUpdate?: (index: number, error: unknown) => void,
): Uint8Array {
  const doc = new Y.Doc();
  try {
    if (base) Y.applyUpdate(doc, base);
    updates.forEach((update, index) => {
      try {
        Y.applyUpdate(doc, update);
      } catch (error) {
        onBadUpdate?.(index, error);
      }
    });
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}

/** What a client with `stateVector` lacks of `state` (the whole state without one). */
export function diffState(state: Uint8Array, stateVector?: Uint8Array): Uint8Array {
  return stateVector ? Y.diffUpdate(state, stateVector) : state;
}

/** The state vector of a state (an update). */
export const stateVectorOf = (state: Uint8Array): Uint8Array => Y.encodeStateVectorFromUpdate(state);

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
export const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
