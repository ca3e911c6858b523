/**
 * Ports of the collaborative documents (functions/domain/documents.ts):
 * the documents' records and snapshot pointers (DynamoDB), and the snapshot
 * objects too large for an item (S3). Collaborators are memberships, read and
 * written through the RoomStore's membership methods under the document's
 * group id (shared/member-groups.ts).
 */
import type { Membership, MembershipPage } from './ports.js';

export interface DocumentRecord {
  docId: string;
  title: string;
  createdBy: string;
  createdAt: string;
}

/**
 * Where a document's latest snapshot is: the merged state of every entry of
 * `document:{docId}` up to `seq`, inline (`data`) or in an object (`objectKey`).
 */
export interface SnapshotPointer {
  docId: string;
  seq: number;
  /** Size of the snapshot in bytes. */
  bytes: number;
  data?: Uint8Array;
  objectKey?: string;
  /** Epoch ms of the compaction that wrote it. */
  compactedAt: number;
}

export interface DocumentStore {
  /** The document first, then its owner's membership (a membership never points at nothing). */
  createDocument(doc: DocumentRecord, owner: Membership): Promise<void>;
  getDocument(docId: string): Promise<DocumentRecord | null>;
  getDocuments(docIds: string[]): Promise<DocumentRecord[]>;
  /** Up to `limit` of the user's collaborations (memberships whose `roomId` is a document group id), by document id, after `afterDocId`. */
  listCollaborations(userId: string, page: { limit: number; afterDocId?: string }): Promise<MembershipPage>;
  /** How many documents the user collaborates on (`addedByOthers`: only those others put them in), counting no further than `upTo`. */
  countCollaborations(userId: string, upTo: number, options?: { addedByOthers?: boolean }): Promise<number>;
  /** The current pointer (strongly consistent), or null before the first compaction. */
  getSnapshot(docId: string): Promise<SnapshotPointer | null>;
  /** Writes the pointer only while the stored one has a lower seq (or there is none); false when not. */
  putSnapshot(pointer: SnapshotPointer): Promise<boolean>;
}

/** Snapshot objects (S3): written whole, never modified; one key per (docId, seq). */
export interface SnapshotObjects {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The object's bytes, or null when there is no such object (deleted after a newer snapshot took its place). */
  get(key: string): Promise<Uint8Array | null>;
  /** Keys under `prefix` (all of them; a document has a handful at most). */
  list(prefix: string): Promise<string[]>;
  delete(keys: string[]): Promise<void>;
}
