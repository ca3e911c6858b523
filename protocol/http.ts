/**
 * The HTTP API's payloads as zod schemas: what every route takes (path,
 * query, body) and answers, and the error body. The handlers parse their
 * input with these, a client SDK can import them, and scripts/openapi.ts
 * turns `HTTP_ROUTES` into docs/openapi.json.
 *
 * Descriptions live in a registry of this module's own (`HTTP_DOCS`), never in
 * zod's global one: importing protocol/ changes no global state.
 */
import { ID_PATTERN, MAX_CHANNEL_LENGTH, USER_ID_PATTERN } from './channels.js';
import { ERROR_CODES } from './codes.js';
import {
  Collaborator,
  CollaboratorPath,
  CreateDocumentBody,
  Document,
  DOCUMENT_SCHEMA_DOCS,
  DocumentPath,
  DocumentsPage,
  DocumentsQuery,
  DocumentState,
  DocumentStateQuery,
  DocumentUpdateBody,
  DocumentUpdateResult,
} from './documents.js';
import * as z from './zod.js';

/** Longest chat message text, in UTF-16 code units. */
export const MAX_MESSAGE_TEXT_LENGTH = 4000;
/** Longest room name after normalization (functions/domain/display-name.ts checks it). */
export const MAX_ROOM_NAME_LENGTH = 100;
export const ROOMS_PAGE_DEFAULT_LIMIT = 50;
export const ROOMS_PAGE_MAX_LIMIT = 100;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;
/** Most recipients of one `POST /notifications`. */
export const MAX_NOTIFICATION_RECIPIENTS = 1000;
/** A notification's `type`: 1-64 of A-Z a-z 0-9 _ . : - (e.g. `mention`, `order.shipped`). */
export const NOTIFICATION_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Longest title and body, in UTF-16 code units. */
export const MAX_NOTIFICATION_TITLE_LENGTH = 200;
export const MAX_NOTIFICATION_BODY_LENGTH = 2000;
/** Largest `data`, in UTF-8 bytes of its JSON (413 beyond), and its shape bounds (400 beyond). */
export const MAX_NOTIFICATION_DATA_BYTES = 4096;
export const MAX_NOTIFICATION_DATA_DEPTH = 8;
export const MAX_NOTIFICATION_DATA_ELEMENTS = 256;
/**
 * Largest `POST /notifications` body, in bytes: 1,000 user ids of up to 128
 * characters, plus the notification itself (the other routes take MAX_BODY_BYTES, 64 KB).
 */
export const MAX_NOTIFY_BODY_BYTES = 192 * 1024;
/** How long an inbox keeps a notification (its `expiresAt`), in days. */
export const INBOX_RETENTION_DAYS = 30;
export const INBOX_PAGE_DEFAULT_LIMIT = 20;
export const INBOX_PAGE_MAX_LIMIT = 100;
/** The unread count stops here (its cost grows with what it counts): `unread: 1000` means 1,000 or more. */
export const UNREAD_COUNT_MAX = 1000;
/** Most notifications one `POST /me/notifications/read-all` marks read (it may stop sooner, at its time budget: `more`). */
export const READ_ALL_MAX = 10_000;
/** Notification ids: time-ordered, URL-safe. */
export const NOTIFICATION_ID_PATTERN = /^[0-9a-z]{9}-[A-Za-z0-9_-]{16}$/;
/** The scope a token needs to call `POST /notifications` (server to server). */
export const NOTIFY_SCOPE = 'notify';
/** The user channel events of notifications (docs/protocol.md). */
export const NOTIFICATION_EVENT = 'notification';
export const NOTIFICATION_READ_EVENT = 'notification.read';
/** On a send's 201 (and a retry's 200): `true`, or `false` when the message is stored but live delivery failed. */
export const PUBLISHED_HEADER = 'x-townsquare-published';

export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];
/** Roles a member can be added with directly; ownership only moves by transfer. */
export const ADDABLE_ROLES = ['member', 'admin'] as const;

/** Schema ids (components in OpenAPI) and descriptions. */
export const HTTP_DOCS = z.registry<{ id?: string; description?: string }>();
const named = <T extends z.ZodMiniType>(schema: T, id: string, description: string): T => {
  HTTP_DOCS.add(schema, { id, description });
  return schema;
};
const described = <T extends z.ZodMiniType>(schema: T, description: string): T => {
  HTTP_DOCS.add(schema, { description });
  return schema;
};
// The documents' schemas (protocol/documents.ts) carry their descriptions in a list of their own.
for (const [schema, meta] of DOCUMENT_SCHEMA_DOCS) HTTP_DOCS.add(schema, meta);

// ── Parameters ──────────────────────────────────────────────────────────────
export const RoomId = described(z.string().check(z.regex(ID_PATTERN, 'must be a room id')), 'A room id (1-64 of A-Z a-z 0-9 _ -)');
export const UserId = described(z.string().check(z.regex(USER_ID_PATTERN, 'must be a user id')), "A user id: the identity provider's `sub`");
const isoTime = described(z.string(), 'ISO 8601 time, e.g. 2026-11-29T20:00:00.000Z');
const int = (description: string) => described(z.int(), description);
/** A positive integer from a query string, in [1, max], `fallback` when absent. */
const limitParam = (max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(max)), fallback);

export const RoomPath = z.object({ roomId: RoomId });
export const MemberPath = z.object({ roomId: RoomId, userId: UserId });
/** URL-encoded in the path: `/channels/room%3Ar_abc/messages`; checked further by the domain. */
export const ChannelPath = z.object({
  channel: described(
    z.string().check(z.minLength(1), z.maxLength(MAX_CHANNEL_LENGTH * 3)),
    'A durable channel, URL-encoded: room%3A{roomId}, user%3A{userId} or document%3A{docId}',
  ),
});

export const RoomsQuery = z.object({
  limit: limitParam(ROOMS_PAGE_MAX_LIMIT, ROOMS_PAGE_DEFAULT_LIMIT),
  // Checked further (and refused when foreign or malformed) by the domain.
  cursor: z.optional(described(z.string().check(z.minLength(1), z.maxLength(400)), 'The `nextCursor` of the previous page (opaque)')),
});
/** The history routes' query string (`GET /rooms/{roomId}/messages` and `GET /channels/{channel}/messages`). */
export const HistoryQuery = z.object({
  afterSeq: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 0),
  limit: limitParam(HISTORY_MAX_LIMIT, HISTORY_DEFAULT_LIMIT),
});

/** The `unread` flag of GET /me/notifications: `true` or `false` only. */
const booleanParam = z._default(z.pipe(z.enum(['true', 'false'], 'must be "true" or "false"'), z.transform((v) => v === 'true')), false);
export const NotificationsQuery = z.object({
  unread: booleanParam,
  limit: limitParam(INBOX_PAGE_MAX_LIMIT, INBOX_PAGE_DEFAULT_LIMIT),
  cursor: z.optional(described(z.string().check(z.minLength(1), z.maxLength(100)), 'The `nextCursor` of the previous page (opaque)')),
});
export const NotificationId = described(z.string().check(z.regex(NOTIFICATION_ID_PATTERN, 'must be a notification id')), 'A notification id');
export const NotificationPath = z.object({ id: NotificationId });

// ── Request bodies ──────────────────────────────────────────────────────────
/** The name is normalized (NFC, trimmed) and checked by the domain: at most MAX_ROOM_NAME_LENGTH after that. */
export const CreateRoomBody = named(z.object({ name: z.string() }), 'CreateRoomRequest', `Room names are normalized (NFC, trimmed), then at most ${MAX_ROOM_NAME_LENGTH} characters, with no control or bidirectional formatting characters`);
export const AddMemberBody = named(
  z.object({
    userId: UserId,
    role: z.optional(z.enum(ADDABLE_ROLES, 'must be "member" or "admin" (ownership moves with PATCH …/members/{userId})')),
  }),
  'AddMemberRequest',
  'The user to add; `role` defaults to member',
);
export const ChangeRoleBody = named(z.object({ role: z.enum(ROLES, 'must be "owner", "admin" or "member"') }), 'ChangeRoleRequest', '`owner` transfers ownership (the caller becomes admin)');
export const SendMessageBody = named(
  z.object({
    text: z.string().check(z.minLength(1), z.maxLength(MAX_MESSAGE_TEXT_LENGTH)),
    clientMessageId: z.optional(
      described(z.string().check(z.regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ -')), 'Makes retries safe: a retry returns the stored message (scoped to the sender and room, kept 24 h)'),
    ),
  }),
  'SendMessageRequest',
  'A chat message',
);

export const NotifyBody = named(
  z.object({
    userIds: described(
      z.array(UserId).check(z.minLength(1), z.maxLength(MAX_NOTIFICATION_RECIPIENTS)),
      `1-${MAX_NOTIFICATION_RECIPIENTS} recipients; duplicates are notified once`,
    ),
    type: described(z.string().check(z.regex(NOTIFICATION_TYPE_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ . : -')), 'What kind of notification, e.g. `order.shipped` (`mention` is sent by chat)'),
    title: z.string().check(z.minLength(1), z.maxLength(MAX_NOTIFICATION_TITLE_LENGTH)),
    body: z.string().check(z.maxLength(MAX_NOTIFICATION_BODY_LENGTH)),
    data: z.optional(
      described(
        z.unknown(),
        `Any JSON value the app wants back: at most ${MAX_NOTIFICATION_DATA_BYTES} bytes as JSON (413 beyond), nested at most ${MAX_NOTIFICATION_DATA_DEPTH} deep with at most ${MAX_NOTIFICATION_DATA_ELEMENTS} members and items, numbers 0 or between 1e-130 and 2^53-1 in magnitude, no empty object keys (400 otherwise)`,
      ),
    ),
    idempotencyKey: z.optional(
      described(
        z.string().check(z.regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ -')),
        'Makes retries safe: a call with a key already used (by the same caller, within 24 h) notifies no recipient twice. The same key with another type, title, body or data is a conflict (409)',
      ),
    ),
  }),
  'NotifyRequest',
  'One notification for up to 1,000 users',
);

// ── Responses ───────────────────────────────────────────────────────────────
export const Room = named(z.object({ roomId: RoomId, name: z.string(), createdBy: UserId, createdAt: isoTime }), 'Room', 'A chat room');
export const RoomSummary = named(
  z.object({ roomId: RoomId, name: z.string(), createdBy: UserId, createdAt: isoTime, joinedAt: isoTime, role: z.enum(ROLES) }),
  'RoomSummary',
  'One of the caller’s rooms, with the caller’s membership',
);
export const RoomsPage = named(
  z.object({ rooms: z.array(RoomSummary), nextCursor: described(z.nullable(z.string()), 'Pass as `cursor` for the next page; null at the end') }),
  'RoomsPage',
  'One page of the caller’s rooms, ordered by room id',
);
export const Membership = named(
  z.object({ roomId: RoomId, userId: UserId, addedBy: UserId, joinedAt: isoTime, role: z.enum(ROLES) }),
  'Membership',
  'A member of a room and their role',
);
export const ChatMessage = named(
  z.object({
    id: z.string(),
    seq: int('Position in the room channel: 1, 2, 3, … with no gaps'),
    roomId: RoomId,
    userId: UserId,
    text: z.string(),
    createdAt: isoTime,
    clientMessageId: z.optional(z.string()),
  }),
  'ChatMessage',
  'A stored chat message',
);
/** Optional fields of both history pages (functions/domain/channel-log.ts `read`). */
const historyPageExtras = {
  retryAfterMs: z.optional(described(z.int(), 'Present when the page stopped before a seq still being written: ask again after this many ms')),
  truncated: z.optional(described(z.literal(true), 'Present when history no longer holds seqs afterSeq + 1 … firstSeq - 1 (expired under message retention)')),
  firstSeq: z.optional(described(z.int(), 'With `truncated`: the first seq history still holds')),
};
export const RoomHistoryPage = named(
  z.object({ messages: z.array(ChatMessage), nextAfterSeq: described(z.nullable(z.int()), 'Pass as `afterSeq` for the next page; null when nothing more can be read now'), ...historyPageExtras }),
  'RoomHistoryPage',
  'Chat messages in ascending seq (gap tombstones left out)',
);
export const ChannelMessage = named(
  z.object({ seq: z.int(), id: z.string(), event: described(z.string(), '`gap` for a tombstone: a seq that holds no message'), data: z.unknown(), ts: int('Epoch milliseconds') }),
  'ChannelMessage',
  'One history entry: the fields of the live `message` frame',
);
export const ChannelHistoryPage = named(
  z.object({ messages: z.array(ChannelMessage), nextAfterSeq: described(z.nullable(z.int()), 'Pass as `afterSeq` for the next page; null at the end of the log'), ...historyPageExtras }),
  'ChannelHistoryPage',
  'Entries in ascending seq, tombstones included',
);
export const Notification = named(
  z.object({
    id: NotificationId,
    type: z.string(),
    title: z.string(),
    body: z.string(),
    data: z.optional(z.unknown()),
    createdAt: int('Epoch milliseconds'),
    read: z.boolean(),
  }),
  'Notification',
  'One notification: the inbox item and the data of the live `notification` event on `user:{userId}` (same id)',
);
export const NotificationsPage = named(
  z.object({
    items: z.array(Notification),
    nextCursor: z.optional(described(z.string(), 'Pass as `cursor` for the next page; absent at the end')),
  }),
  'NotificationsPage',
  'The caller’s notifications, newest first',
);
const unreadField = int(`Unread notifications in the inbox (expired ones excluded), counted up to ${UNREAD_COUNT_MAX}: ${UNREAD_COUNT_MAX} means that many or more`);
export const UnreadCount = named(z.object({ unread: unreadField }), 'UnreadCount', 'The caller’s unread count');
export const ReadAllResult = named(
  z.object({
    unread: unreadField,
    more: z.optional(described(z.literal(true), 'Present when unread notifications were left (the call stopped at its limit or time budget): call again')),
  }),
  'ReadAllResult',
  'The unread count after marking all read',
);
export const NOTIFY_STATUSES = ['stored', 'duplicate', 'failed', 'unknown'] as const;
export const NotifyRecipientResult = named(
  z.object({
    userId: UserId,
    status: described(
      z.enum(NOTIFY_STATUSES),
      '`stored`: notified now; `duplicate`: an earlier call with this idempotencyKey notified them (not again); `failed`: not notified (see `reason`; retry with the same idempotencyKey); `unknown`: the database did not say whether their entry was stored (retry with the same idempotencyKey: it finds out, and notifies nobody twice)',
    ),
    id: z.optional(NotificationId),
    seq: z.optional(int('Its seq on user:{userId}')),
    published: z.optional(described(z.boolean(), 'With `stored`: whether live delivery went out (the inbox and history have it either way)')),
    reason: z.optional(z.string()),
  }),
  'NotifyRecipientResult',
  'What happened for one recipient',
);
export const NotifyResult = named(
  z.object({
    stored: int('Recipients notified by this call'),
    duplicates: int('Recipients an earlier call with the same idempotencyKey already notified'),
    failed: int('Recipients not notified'),
    unknown: int('Recipients perhaps notified: retry with the same idempotencyKey to settle them'),
    results: z.array(NotifyRecipientResult),
  }),
  'NotifyResult',
  'One result per distinct recipient, in the order of `userIds`',
);
/** API Gateway's own answer to a token without a scope the route requires. */
export const GatewayForbiddenBody = named(z.object({ message: z.literal('Forbidden') }), 'GatewayForbidden', 'The token lacks the scope the route requires');
export const ErrorBody = named(
  z.object({ error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }) }),
  'Error',
  'Every error answered after authentication',
);
/** API Gateway's own answer to a missing, malformed, forged or expired token. */
export const GatewayUnauthorizedBody = named(z.object({ message: z.literal('Unauthorized') }), 'GatewayUnauthorized', 'The JWT authorizer refused the token');

// ── Routes ──────────────────────────────────────────────────────────────────
export interface HttpResponseContract {
  description: string;
  body?: z.ZodMiniType;
  headers?: Record<string, { description: string; schema: z.ZodMiniType }>;
}

export interface HttpRouteContract {
  summary: string;
  path?: z.ZodMiniObject;
  query?: z.ZodMiniObject;
  body?: z.ZodMiniType;
  responses: Record<number, HttpResponseContract>;
  /** Error statuses this route answers with the error body (401 and 500 apply to every route). */
  errors: number[];
  /** The token scope the route requires: the gateway answers 403 (GatewayForbidden) to a token without it. */
  scope?: string;
}

const publishedHeader = {
  [PUBLISHED_HEADER]: { description: '`false` when the message is stored but live delivery failed (subscribers backfill from history)', schema: z.enum(['true', 'false']) },
};

/** Every route of functions/routes.ts, keyed by its route key. */
export const HTTP_ROUTES: Readonly<Record<string, HttpRouteContract>> = {
  'POST /rooms': {
    summary: 'Create a room; the caller becomes its owner',
    body: CreateRoomBody,
    responses: { 201: { description: 'Created', body: Room } },
    errors: [400, 409, 413, 503],
  },
  'GET /rooms': {
    summary: 'One page of the caller’s rooms',
    query: RoomsQuery,
    responses: { 200: { description: 'A page', body: RoomsPage } },
    errors: [400, 503],
  },
  'POST /rooms/{roomId}/members': {
    summary: 'Add a member (owner and admins; only the owner adds an admin)',
    path: RoomPath,
    body: AddMemberBody,
    responses: { 201: { description: 'Added', body: Membership }, 200: { description: 'Already a member (role unchanged)', body: Membership } },
    errors: [400, 403, 404, 409, 413, 503],
  },
  'PATCH /rooms/{roomId}/members/{userId}': {
    summary: 'Change a member’s role (owner only); `owner` transfers ownership',
    path: MemberPath,
    body: ChangeRoleBody,
    responses: { 200: { description: 'The membership with its new role', body: Membership } },
    errors: [400, 403, 404, 409, 413, 503],
  },
  'DELETE /rooms/{roomId}/members/{userId}': {
    summary: 'Leave, or remove a member',
    path: MemberPath,
    responses: { 204: { description: 'Removed' } },
    errors: [400, 403, 404, 409, 503],
  },
  'POST /rooms/{roomId}/messages': {
    summary: 'Send a chat message (members only)',
    path: RoomPath,
    body: SendMessageBody,
    responses: {
      201: { description: 'Stored (and published unless the header says otherwise)', body: ChatMessage, headers: publishedHeader },
      200: { description: 'A retry of a stored clientMessageId: the same message, published again', body: ChatMessage, headers: publishedHeader },
    },
    errors: [400, 403, 404, 409, 413, 429, 503],
  },
  'GET /rooms/{roomId}/messages': {
    summary: 'Room history (v1 shape), ascending seq',
    path: RoomPath,
    query: HistoryQuery,
    responses: { 200: { description: 'A page', body: RoomHistoryPage } },
    errors: [400, 403, 404, 503],
  },
  'GET /channels/{channel}/messages': {
    summary: 'History of any durable channel the caller may read',
    path: ChannelPath,
    query: HistoryQuery,
    responses: { 200: { description: 'A page', body: ChannelHistoryPage } },
    errors: [400, 403, 404, 503],
  },
  'POST /notifications': {
    summary: `Notify up to 1,000 users (server to server: needs the \`${NOTIFY_SCOPE}\` scope)`,
    body: NotifyBody,
    scope: NOTIFY_SCOPE,
    responses: {
      201: { description: 'Every recipient is notified (some perhaps by an earlier call with the same idempotencyKey)', body: NotifyResult },
      200: { description: 'A retry: an earlier call with this idempotencyKey notified every recipient; nobody was notified again', body: NotifyResult },
      207: { description: 'Some recipients were not notified (`failed`) or may not have been (`unknown`), each with a reason; retry with the same idempotencyKey. Also when none was stored', body: NotifyResult },
    },
    errors: [400, 403, 409, 413, 503],
  },
  'GET /me/notifications': {
    summary: 'The caller’s notifications, newest first',
    query: NotificationsQuery,
    responses: { 200: { description: 'A page', body: NotificationsPage } },
    errors: [400, 503],
  },
  'GET /me/notifications/unread-count': {
    summary: 'How many of the caller’s notifications are unread',
    responses: { 200: { description: 'The count', body: UnreadCount } },
    errors: [503],
  },
  'POST /me/notifications/{id}/read': {
    summary: 'Mark one notification read (idempotent)',
    path: NotificationPath,
    responses: { 200: { description: 'Read; the unread count after', body: UnreadCount } },
    errors: [400, 404, 503],
  },
  'POST /me/notifications/read-all': {
    summary: 'Mark every notification read (idempotent)',
    responses: { 200: { description: 'The unread count after (0 unless notifications arrived meanwhile, or `more`)', body: ReadAllResult } },
    errors: [503],
  },
  'POST /documents': {
    summary: 'Create a collaborative document; the caller becomes its owner',
    body: CreateDocumentBody,
    responses: { 201: { description: 'Created', body: Document } },
    errors: [400, 409, 413, 503],
  },
  'GET /documents': {
    summary: 'One page of the caller’s documents',
    query: DocumentsQuery,
    responses: { 200: { description: 'A page', body: DocumentsPage } },
    errors: [400, 503],
  },
  'GET /documents/{docId}': {
    summary: 'The document’s state as one Yjs update and the seq it reflects (with `stateVector`: only what the client lacks)',
    path: DocumentPath,
    query: DocumentStateQuery,
    responses: { 200: { description: 'The state', body: DocumentState } },
    errors: [400, 403, 404, 503],
  },
  'POST /documents/{docId}/updates': {
    summary: 'Append a Yjs update (collaborators only); published on document:{docId}',
    path: DocumentPath,
    body: DocumentUpdateBody,
    responses: {
      201: { description: 'Stored (and published unless the header says otherwise)', body: DocumentUpdateResult, headers: publishedHeader },
      200: { description: 'A retry of a stored clientUpdateId: the same entry, published again', body: DocumentUpdateResult, headers: publishedHeader },
    },
    errors: [400, 403, 404, 409, 413, 429, 503],
  },
  'GET /documents/{docId}/updates': {
    summary: 'The document’s updates in ascending seq (an alias of GET /channels/document%3A{docId}/messages)',
    path: DocumentPath,
    query: HistoryQuery,
    responses: { 200: { description: 'A page', body: ChannelHistoryPage } },
    errors: [400, 403, 404, 503],
  },
  'POST /documents/{docId}/collaborators': {
    summary: 'Add a collaborator (owner and admins; only the owner adds an admin)',
    path: DocumentPath,
    body: AddMemberBody,
    responses: { 201: { description: 'Added', body: Collaborator }, 200: { description: 'Already a collaborator (role unchanged)', body: Collaborator } },
    errors: [400, 403, 404, 409, 413, 503],
  },
  'PATCH /documents/{docId}/collaborators/{userId}': {
    summary: 'Change a collaborator’s role (owner only); `owner` transfers ownership',
    path: CollaboratorPath,
    body: ChangeRoleBody,
    responses: { 200: { description: 'The collaborator with their new role', body: Collaborator } },
    errors: [400, 403, 404, 409, 413, 503],
  },
  'DELETE /documents/{docId}/collaborators/{userId}': {
    summary: 'Leave, or remove a collaborator',
    path: CollaboratorPath,
    responses: { 204: { description: 'Removed' } },
    errors: [400, 403, 404, 409, 503],
  },
};

/** Input and output types of the payloads, for clients. */
export type CreateRoomRequest = z.input<typeof CreateRoomBody>;
export type AddMemberRequest = z.input<typeof AddMemberBody>;
export type ChangeRoleRequest = z.input<typeof ChangeRoleBody>;
export type SendMessageRequest = z.input<typeof SendMessageBody>;
export type Room = z.output<typeof Room>;
export type RoomSummary = z.output<typeof RoomSummary>;
export type RoomsPage = z.output<typeof RoomsPage>;
export type Membership = z.output<typeof Membership>;
export type ChatMessage = z.output<typeof ChatMessage>;
export type RoomHistoryPage = z.output<typeof RoomHistoryPage>;
export type ChannelMessage = z.output<typeof ChannelMessage>;
export type ChannelHistoryPage = z.output<typeof ChannelHistoryPage>;
export type ErrorBody = z.output<typeof ErrorBody>;
export type NotifyRequest = z.input<typeof NotifyBody>;
export type Notification = z.output<typeof Notification>;
export type NotificationsPage = z.output<typeof NotificationsPage>;
export type NotifyResult = z.output<typeof NotifyResult>;
export type NotifyRecipientResult = z.output<typeof NotifyRecipientResult>;
export type UnreadCount = z.output<typeof UnreadCount>;
