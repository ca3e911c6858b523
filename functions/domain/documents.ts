/**
 * Collaborative documents: Yjs state kept in the channel log of
 * `document:{docId}` and compacted into snapshots (document-compaction.ts).
 * A thin caller of the channel log, like chat: an update is checked (it must
 * decode as a Yjs update), appended with the next seq (idempotent on the
 * sender's clientUpdateId) and published; collaborators are memberships with
 * the room roles (member-groups.ts), so adding, removing and the immediate
 * revoke work as for rooms.
 *
 * How many documents one user collaborates on is capped like rooms
 * (MAX_DOCUMENTS_PER_USER, of which MAX_DOCUMENTS_ADDED_BY_OTHERS by others),
 * counted on the same index but apart from rooms (shared/member-groups.ts).
 */
import { documentChannel, ID_PATTERN } from '../../protocol/index.js';
import { DOCUMENT_UPDATE_EVENT, DOCUMENTS_PAGE_DEFAULT_LIMIT, MAX_DOCUMENT_TITLE_LENGTH, type DocumentUpdateEntry } from '../../protocol/documents.js';
import { docIdOfGroup, documentGroupId } from '../../shared/member-groups.js';
import { withTimeout } from '../../shared/with-timeout.js';
import { requireChannelAccess } from './channel-access.js';
import { append, type ChannelLogDeps } from './channel-log.js';
import { checkDisplayName } from './display-name.js';
import { COMPACTION_BUDGET_MS, compact, compactionDue, loadState, type CompactionResult, type DocumentStateDeps } from './document-compaction.js';
import type { DocumentRecord, DocumentStore, SnapshotObjects } from './document-ports.js';
import { checkStateVector, checkUpdate, diffState, stateVectorOf, toBase64 } from './document-state.js';
import { badRequest, limitExceeded, notFound } from './errors.js';
import { newDocumentId } from './ids.js';
import { addMember, changeRole, removeMember, type Group, type MemberDeps, type MemberView, type RevokeDeps } from './member-groups.js';
import type { Role, RoomStore } from './ports.js';
import { roleOf, type AddableRole } from './roles.js';

/** Documents one user may collaborate on (created or added to by others). */
export const MAX_DOCUMENTS_PER_USER = 1000;
/** Of those, documents others may add the user to. */
export const MAX_DOCUMENTS_ADDED_BY_OTHERS = 500;

export interface DocumentStoreDeps {
  /** The memberships (collaborators are memberships under the document's group id). */
  rooms: RoomStore;
  documents: DocumentStore;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  /** @default MAX_DOCUMENTS_PER_USER */
  maxDocumentsPerUser?: number;
  /** @default MAX_DOCUMENTS_ADDED_BY_OTHERS */
  maxDocumentsAddedByOthers?: number;
}

export type DocumentDeps = DocumentStoreDeps &
  ChannelLogDeps &
  DocumentStateDeps & {
    snapshots: SnapshotObjects;
    /** Told what a compaction did (sizes before and after), or why it failed: the update is stored either way. */
    onCompaction?: (docId: string, outcome: CompactionResult | { error: unknown }) => void;
    /** @default COMPACTION_BUDGET_MS */
    compactionBudgetMs?: number;
  };

export type CollaboratorView = Omit<MemberView, 'roomId'> & { docId: string };

const nowIso = (deps: Pick<DocumentStoreDeps, 'now'>) => new Date((deps.now ?? Date.now)()).toISOString();
/** The membership rules' deps (they date memberships with a Date). */
const memberDeps = (deps: DocumentStoreDeps): MemberDeps => ({ rooms: deps.rooms, now: () => new Date((deps.now ?? Date.now)()) });

export function documentTitle(raw: string): string {
  const checked = checkDisplayName(raw, MAX_DOCUMENT_TITLE_LENGTH);
  if (!checked.ok) throw badRequest(`body.title: the title ${checked.problem}`);
  return checked.value;
}

/** The membership rules' view of one document. */
function documentGroup(deps: DocumentStoreDeps, docId: string): Group {
  return {
    noun: 'document',
    id: docId,
    groupId: documentGroupId(docId),
    channel: documentChannel(docId),
    load: () => deps.documents.getDocument(docId),
    requireSpace: (userId, byOther) => requireDocumentToSpare(deps, userId, byOther),
  };
}

async function requireDocumentToSpare(deps: DocumentStoreDeps, userId: string, byOther: boolean): Promise<void> {
  const subject = byOther ? `User ${userId} already collaborates` : 'You already collaborate';
  const max = deps.maxDocumentsPerUser ?? MAX_DOCUMENTS_PER_USER;
  if ((await deps.documents.countCollaborations(userId, max)) >= max) {
    throw limitExceeded(`${subject} on ${max} documents, the most one user may; leave one first`);
  }
  if (!byOther) return;
  const maxByOthers = deps.maxDocumentsAddedByOthers ?? MAX_DOCUMENTS_ADDED_BY_OTHERS;
  if ((await deps.documents.countCollaborations(userId, maxByOthers, { addedByOthers: true })) >= maxByOthers) {
    throw limitExceeded(`User ${userId} was already added to ${maxByOthers} documents by others, the most allowed; they must leave one first`);
  }
}

export async function createDocument(deps: DocumentStoreDeps, userId: string, title: string): Promise<DocumentRecord> {
  const cleanTitle = documentTitle(title);
  await requireDocumentToSpare(deps, userId, false);
  const createdAt = nowIso(deps);
  const doc: DocumentRecord = { docId: newDocumentId(), title: cleanTitle, createdBy: userId, createdAt };
  await deps.documents.createDocument(doc, { roomId: documentGroupId(doc.docId), userId, addedBy: userId, joinedAt: createdAt, role: 'owner' });
  return doc;
}

export interface DocumentsPage {
  documents: Array<DocumentRecord & { joinedAt: string; role: Role }>;
  nextCursor: string | null;
}

/** One page of the caller's documents, ordered by document id (see listRooms: the same paging rules). */
export async function listDocuments(deps: DocumentStoreDeps, userId: string, page: { limit?: number; cursor?: string } = {}): Promise<DocumentsPage> {
  const limit = page.limit ?? DOCUMENTS_PAGE_DEFAULT_LIMIT;
  const afterDocId = page.cursor === undefined ? undefined : decodeCursor(page.cursor, userId);
  const { memberships, more } = await deps.documents.listCollaborations(userId, { limit, ...(afterDocId && { afterDocId }) });
  const docIdOf = (groupId: string) => docIdOfGroup(groupId) ?? groupId;
  const docs = await deps.documents.getDocuments(memberships.map((m) => docIdOf(m.roomId)));
  const byId = new Map(docs.map((d) => [d.docId, d]));
  const last = memberships.at(-1);
  return {
    documents: memberships.flatMap((m) => {
      const doc = byId.get(docIdOf(m.roomId));
      return doc ? [{ ...doc, joinedAt: m.joinedAt, role: roleOf(m, doc) }] : [];
    }),
    nextCursor: more && last ? Buffer.from(JSON.stringify({ u: userId, d: docIdOf(last.roomId) })).toString('base64url') : null,
  };
}

function decodeCursor(cursor: string, userId: string): string {
  const refuse = () => badRequest('query.cursor: not a cursor from this caller’s GET /documents; omit it to start from the first page');
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw refuse();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  const { u, d } = (value ?? {}) as { u?: unknown; d?: unknown };
  if (u !== userId || typeof d !== 'string' || !ID_PATTERN.test(d)) throw refuse();
  return d;
}

const collaboratorView = ({ roomId, ...rest }: MemberView, docId: string): CollaboratorView => ({ docId, ...rest });

export async function addCollaborator(
  deps: DocumentStoreDeps,
  actorId: string,
  docId: string,
  userId: string,
  role: AddableRole = 'member',
): Promise<{ collaborator: CollaboratorView; created: boolean }> {
  const { membership, created } = await addMember(memberDeps(deps), documentGroup(deps, docId), actorId, userId, role);
  return { collaborator: collaboratorView(membership, docId), created };
}

export async function changeCollaboratorRole(deps: DocumentStoreDeps, actorId: string, docId: string, userId: string, role: Role): Promise<CollaboratorView> {
  return collaboratorView(await changeRole(memberDeps(deps), documentGroup(deps, docId), actorId, userId, role), docId);
}

/** Stored first, then a revoke on `document:{docId}` ends the user's live subscriptions on every relay. */
export async function removeCollaborator(deps: DocumentStoreDeps & RevokeDeps, actorId: string, docId: string, userId: string): Promise<void> {
  await removeMember({ ...(deps as RevokeDeps), ...memberDeps(deps) }, documentGroup(deps, docId), actorId, userId);
}

/** Throws forbidden (not_found for an unknown document) unless `userId` collaborates on `docId`. */
export const requireCollaborator = (deps: Pick<DocumentStoreDeps, 'rooms' | 'documents'>, userId: string, docId: string): Promise<void> =>
  requireChannelAccess(deps.rooms, userId, { kind: 'document', id: docId }, deps.documents);

export interface DocumentStateView {
  docId: string;
  title: string;
  update: string;
  seq: number;
  stateVector: string;
}

/**
 * The document's state as one Yjs update (base64) and the seq it reflects;
 * given the client's state vector, only what that client lacks.
 */
export async function getDocumentState(
  deps: Pick<DocumentDeps, 'rooms' | 'documents' | 'snapshots' | 'channels' | 'gapHealAfterMs' | 'inlineSnapshotMaxBytes' | 'now' | 'onStateProblem'>,
  input: { docId: string; userId: string; stateVector?: string },
): Promise<DocumentStateView> {
  const stateVector = input.stateVector === undefined ? undefined : checkStateVector(input.stateVector);
  await requireCollaborator(deps, input.userId, input.docId);
  const [doc, loaded] = await Promise.all([deps.documents.getDocument(input.docId), loadState(deps, input.docId)]);
  if (!doc) throw notFound(`Document ${input.docId} does not exist`);
  return {
    docId: input.docId,
    title: doc.title,
    update: toBase64(diffState(loaded.state, stateVector)),
    seq: loaded.seq,
    stateVector: toBase64(stateVectorOf(loaded.state)),
  };
}

export interface PostUpdateResult {
  docId: string;
  seq: number;
  clientUpdateId: string;
  userId: string;
  created: boolean;
  published: boolean;
}

/**
 * Appends one update from a collaborator (checked first). A malformed one is refused before anything is written;
 * a retry with the same clientUpdateId returns the stored entry. When the
 * append makes a compaction due, it runs before the answer, bounded by the
 * deadline (its failure is reported, never returned: the update is stored).
 */
export async function postUpdate(
  deps: DocumentDeps,
  input: { docId: string; userId: string; update: string; clientUpdateId: string },
): Promise<PostUpdateResult> {
  // Access first: a stranger's body is not worth decoding (up to MAX_DOCUMENT_UPDATE_BYTES).
  await requireCollaborator(deps, input.userId, input.docId);
  const bytes = checkUpdate(input.update);
  const data: DocumentUpdateEntry = { update: input.update, userId: input.userId, clientUpdateId: input.clientUpdateId };
  // No retention for documents: until compacted, the log is the document (document-compaction.ts).
  const { entry, created, published } = await append({ ...deps, retentionMs: undefined }, documentChannel(input.docId), {
    event: DOCUMENT_UPDATE_EVENT,
    data,
    idempotencyKey: `${input.userId}#${input.clientUpdateId}`,
    keyName: 'clientUpdateId',
  });
  if (created && compactionDue(entry.seq, bytes.length)) await compactWithinDeadline(deps, input.docId);
  return { docId: input.docId, seq: entry.seq, clientUpdateId: input.clientUpdateId, userId: input.userId, created, published };
}

async function compactWithinDeadline(deps: DocumentDeps, docId: string): Promise<void> {
  const now = (deps.now ?? Date.now)();
  const budget = deps.compactionBudgetMs ?? COMPACTION_BUDGET_MS;
  const left = deps.deadline === undefined ? Infinity : deps.deadline - now - 500;
  try {
    if (left < budget) throw new Error(`no time left to compact (${Math.max(0, Math.round(left))} ms before the deadline); the next due append will`);
    const outcome = await withTimeout(compact(deps, docId), Math.min(left, 60_000), `compaction took longer than ${Math.min(left, 60_000)} ms`);
    deps.onCompaction?.(docId, outcome);
  } catch (error) {
    try {
      deps.onCompaction?.(docId, { error });
    } catch {
      // the update is stored and answered regardless
    }
  }
}
