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
import * as z from './zod.js';

/** Longest chat message text, in UTF-16 code units. */
export const MAX_MESSAGE_TEXT_LENGTH = 4000;
/** Longest room name after normalization (functions/domain/display-name.ts checks it). */
export const MAX_ROOM_NAME_LENGTH = 100;
export const ROOMS_PAGE_DEFAULT_LIMIT = 50;
export const ROOMS_PAGE_MAX_LIMIT = 100;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;
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
    'A durable channel, URL-encoded: room%3A{roomId} or user%3A{userId}',
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
