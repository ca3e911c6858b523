/**
 * The collaborative documents' HTTP payloads and limits (docs/http-api.md,
 * "Documents"; docs/documents.md for how the state is stored). Yjs updates
 * and state vectors travel as base64 text in JSON. protocol/http.ts lists the
 * routes and registers these schemas' descriptions (`DOCUMENT_SCHEMA_DOCS`);
 * this module imports nothing of it, so there is no import cycle.
 */
import { ID_PATTERN, USER_ID_PATTERN } from './channels.js';
import * as z from './zod.js';

/** Longest title after normalization (NFC, trimmed), in UTF-16 code units. */
export const MAX_DOCUMENT_TITLE_LENGTH = 200;
/**
 * Largest Yjs update one `POST /documents/{docId}/updates` takes, in bytes
 * (413 beyond). As base64 (131,072 characters) in its log entry's envelope it
 * stays well under the channel log's 200 KiB entry bound.
 */
export const MAX_DOCUMENT_UPDATE_BYTES = 96 * 1024;
/** Largest body of that route: the base64 update plus the JSON around it. */
export const MAX_DOCUMENT_UPDATE_BODY_BYTES = 140 * 1024;
/** Largest state vector a client may send (`?stateVector=`), in bytes: about 700 writers' clocks. */
export const MAX_STATE_VECTOR_BYTES = 4 * 1024;
export const DOCUMENTS_PAGE_DEFAULT_LIMIT = 50;
export const DOCUMENTS_PAGE_MAX_LIMIT = 100;
/** The event of an update's entry on `document:{docId}`; its data is a `DocumentUpdateEntry`. */
export const DOCUMENT_UPDATE_EVENT = 'document.update';

/** Standard base64 with padding (the body's `update`). */
export const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A query parameter: base64url without padding, or standard base64 (with `+` and `/` percent-encoded). */
export const BASE64_QUERY_PATTERN = /^(?:[A-Za-z0-9_-]*|(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)$/;

/** Schemas with their OpenAPI component id and description; protocol/http.ts registers them. */
export const DOCUMENT_SCHEMA_DOCS: Array<[z.ZodMiniType, { id?: string; description: string }]> = [];
const named = <T extends z.ZodMiniType>(schema: T, id: string, description: string): T => {
  DOCUMENT_SCHEMA_DOCS.push([schema, { id, description }]);
  return schema;
};
const described = <T extends z.ZodMiniType>(schema: T, description: string): T => {
  DOCUMENT_SCHEMA_DOCS.push([schema, { description }]);
  return schema;
};

const DocId = described(z.string().check(z.regex(ID_PATTERN, 'must be a document id')), 'A document id (1-64 of A-Z a-z 0-9 _ -)');
const isoTime = z.string();
const ROLE_NAMES = ['owner', 'admin', 'member'] as const;

export const DocumentPath = z.object({ docId: DocId });
export const CollaboratorPath = z.object({
  docId: DocId,
  userId: z.string().check(z.regex(USER_ID_PATTERN, 'must be a user id')),
});

export const DocumentsQuery = z.object({
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(DOCUMENTS_PAGE_MAX_LIMIT)), DOCUMENTS_PAGE_DEFAULT_LIMIT),
  cursor: z.optional(described(z.string().check(z.minLength(1), z.maxLength(400)), 'The `nextCursor` of the previous page (opaque)')),
});

export const DocumentStateQuery = z.object({
  stateVector: z.optional(
    described(
      z.string().check(z.maxLength(Math.ceil(MAX_STATE_VECTOR_BYTES / 3) * 4), z.regex(BASE64_QUERY_PATTERN, 'must be base64url (or base64)')),
      `The client's Yjs state vector (Y.encodeStateVector), base64url: the answer then holds only what the client lacks. At most ${MAX_STATE_VECTOR_BYTES} bytes`,
    ),
  ),
});

export const CreateDocumentBody = named(
  z.object({ title: z.string() }),
  'CreateDocumentRequest',
  `Titles are normalized (NFC, trimmed), then at most ${MAX_DOCUMENT_TITLE_LENGTH} characters, with no control or bidirectional formatting characters (the room name rules)`,
);

export const DocumentUpdateBody = named(
  z.object({
    update: described(
      z.string().check(z.minLength(1), z.regex(BASE64_PATTERN, 'must be base64 (standard alphabet, padded)')),
      `A Yjs update (Y.encodeStateAsUpdate, or a doc's 'update' event; format v1), base64: at most ${MAX_DOCUMENT_UPDATE_BYTES} bytes decoded (413 beyond); one that does not decode is 400`,
    ),
    clientUpdateId: described(
      z.string().check(z.regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ -')),
      'Makes retries safe: a retry returns the stored entry (scoped to the sender and document, kept 24 h)',
    ),
  }),
  'DocumentUpdateRequest',
  'One Yjs update to append to the document',
);

export const Document = named(z.object({ docId: DocId, title: z.string(), createdBy: z.string(), createdAt: isoTime }), 'Document', 'A collaborative document');
export const DocumentSummary = named(
  z.object({ docId: DocId, title: z.string(), createdBy: z.string(), createdAt: isoTime, joinedAt: isoTime, role: z.enum(ROLE_NAMES) }),
  'DocumentSummary',
  'One of the caller’s documents, with the caller’s role',
);
export const DocumentsPage = named(
  z.object({ documents: z.array(DocumentSummary), nextCursor: z.nullable(z.string()) }),
  'DocumentsPage',
  'One page of the caller’s documents, ordered by document id; `nextCursor` null at the end',
);
export const Collaborator = named(
  z.object({ docId: DocId, userId: z.string(), addedBy: z.string(), joinedAt: isoTime, role: z.enum(ROLE_NAMES) }),
  'Collaborator',
  'A collaborator on a document and their role',
);
export const DocumentState = named(
  z.object({
    docId: DocId,
    title: z.string(),
    update: described(z.string(), 'The state as one Yjs update (v1), base64: the whole document, or with `stateVector` only what that client lacks'),
    seq: described(z.int(), 'The last seq of `document:{docId}` this state reflects: apply live updates with a higher seq, fetch history after it'),
    stateVector: described(z.string(), "The server state's Yjs state vector, base64: send the updates it lacks (Y.encodeStateAsUpdate(doc, it))"),
  }),
  'DocumentState',
  'A document’s current state',
);
export const DocumentUpdateResult = named(
  z.object({ docId: DocId, seq: z.int(), clientUpdateId: z.string(), userId: z.string() }),
  'DocumentUpdateResult',
  'Where the update was stored in `document:{docId}`',
);

/** An update's entry data on `document:{docId}` (the live `message` frame's `data`, event `document.update`). */
export interface DocumentUpdateEntry {
  /** The Yjs update, base64. */
  update: string;
  userId: string;
  clientUpdateId: string;
}

export type CreateDocumentRequest = z.input<typeof CreateDocumentBody>;
export type DocumentUpdateRequest = z.input<typeof DocumentUpdateBody>;
export type Document = z.output<typeof Document>;
export type DocumentSummary = z.output<typeof DocumentSummary>;
export type DocumentsPage = z.output<typeof DocumentsPage>;
export type Collaborator = z.output<typeof Collaborator>;
export type DocumentState = z.output<typeof DocumentState>;
export type DocumentUpdateResult = z.output<typeof DocumentUpdateResult>;
