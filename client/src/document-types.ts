/**
 * Public types of collaborative documents (plain interfaces; the HTTP shapes
 * are checked against protocol/documents.ts in test/client/documents-units.test.ts).
 */
import type { Role } from './types.js';

export interface DocumentInfo {
  docId: string;
  title: string;
  createdBy: string;
  /** ISO 8601. */
  createdAt: string;
}
export interface DocumentSummary extends DocumentInfo {
  joinedAt: string;
  role: Role;
}
export interface DocumentsPage {
  documents: DocumentSummary[];
  nextCursor: string | null;
}
export interface Collaborator {
  docId: string;
  userId: string;
  addedBy: string;
  joinedAt: string;
  role: Role;
}
/** `GET /documents/{docId}`: the state as one Yjs update (base64) and the seq of `document:{docId}` it reflects. */
export interface DocumentStateResponse {
  docId: string;
  title: string;
  /** The whole state, or with `stateVector` only what that client lacks. */
  update: string;
  seq: number;
  /** The server state's Yjs state vector (base64). */
  stateVector: string;
}
/** `POST /documents/{docId}/updates`: where the update was stored. */
export interface DocumentUpdateResult {
  docId: string;
  seq: number;
  clientUpdateId: string;
  userId: string;
}

/** The documents routes of the HTTP API (`ts.documents`); the live binding is `openDocument` in `@townsquare/client/documents`. */
export interface DocumentsApi {
  /** `POST /documents {title}`: a new document; the caller owns it. */
  create(title: string): Promise<DocumentInfo>;
  /** `GET /documents`: one page of the caller's documents, by document id. */
  list(options?: { limit?: number; cursor?: string }): Promise<DocumentsPage>;
  /** Owner and admins add collaborators (only the owner adds an admin). */
  addCollaborator(docId: string, userId: string, role?: Exclude<Role, 'owner'>): Promise<Collaborator>;
  /** Leave (your own userId) or remove a collaborator; their live subscriptions end at once. */
  removeCollaborator(docId: string, userId: string): Promise<void>;
  /** `GET /documents/{docId}`, optionally with your state vector (base64url) to get only what you lack. */
  getState(docId: string, options?: { stateVector?: string }): Promise<DocumentStateResponse>;
  /** `POST /documents/{docId}/updates`: one Yjs update (base64); a retry with the same clientUpdateId is stored once. */
  postUpdate(docId: string, update: string, clientUpdateId: string): Promise<DocumentUpdateResult>;
}
