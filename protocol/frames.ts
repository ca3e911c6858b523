/**
 * WebSocket frames (JSON text, one object per frame), both ways, as zod
 * schemas: the relay validates client frames with them, and a client SDK can
 * validate server frames with them. Types are inferred from the schemas.
 */
import { MAX_CHANNEL_LENGTH } from './channels.js';
import { ERROR_CODES } from './codes.js';
import type { JsonShapeLimits } from './json-limits.js';
import * as z from './zod.js';

/**
 * The shape bounds of every client frame, checked before it is parsed: a
 * signal's `data` (level 2 and below) may therefore nest 15 levels.
 */
export const CLIENT_FRAME_SHAPE: JsonShapeLimits = { maxDepth: 16, maxElements: 1000 };

/** Event names: short, printable, no spaces (`typing`, `cursor.move`, `awareness:update`). */
export const EVENT_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Longest token an `auth` or `refresh` frame carries. */
export const MAX_TOKEN_LENGTH = 8192;

/** A client-chosen correlation id echoed by the reply. */
const ref = z.optional(z.union([z.string().check(z.maxLength(64)), z.int()]));
const channel = z.string().check(z.minLength(1), z.maxLength(MAX_CHANNEL_LENGTH));
const event = z.string().check(z.regex(EVENT_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ . : -'));
const token = z.string().check(z.minLength(1), z.maxLength(MAX_TOKEN_LENGTH));

// ── Client → relay ──────────────────────────────────────────────────────────
export const AuthFrame = z.object({ type: z.literal('auth'), token, ref });
/** Renews the token on an open connection; the new token must be for the same user. */
export const RefreshFrame = z.object({ type: z.literal('refresh'), token, ref });
export const SubscribeFrame = z.object({ type: z.literal('subscribe'), channel, ref });
export const UnsubscribeFrame = z.object({ type: z.literal('unsubscribe'), channel, ref });
export const SignalFrame = z.object({ type: z.literal('signal'), channel, event, data: z.optional(z.unknown()), ref });
export const PresenceFrame = z.object({ type: z.literal('presence'), channel, ref });
export const PingFrame = z.object({ type: z.literal('ping'), ref });

export const ClientFrame = z.discriminatedUnion('type', [
  AuthFrame,
  RefreshFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  SignalFrame,
  PresenceFrame,
  PingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['type'];
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ['auth', 'refresh', 'subscribe', 'unsubscribe', 'signal', 'presence', 'ping'];

// ── Relay → client ──────────────────────────────────────────────────────────
const epochMs = z.int().check(z.nonnegative());

/** Authenticated; `expiresAt` (epoch ms, the token's `exp`) is when the relay closes with 4005 unless a `refresh` moves it. */
export const WelcomeFrame = z.object({ type: z.literal('welcome'), connectionId: z.string(), userId: z.string(), expiresAt: epochMs, ref });
/** The reply to `refresh`: the connection now lives until `expiresAt` (epoch ms, the new token's `exp`). */
export const RefreshedFrame = z.object({ type: z.literal('refreshed'), expiresAt: epochMs, ref });
export const SubscribedFrame = z.object({ type: z.literal('subscribed'), channel, ref });
/** `reason` is set when the relay ends a subscription on its own (the user lost access to the channel). */
export const UnsubscribedFrame = z.object({ type: z.literal('unsubscribed'), channel, ref, reason: z.optional(z.enum(['access_revoked'])) });
/** A durable message; `seq` grows by 1 per channel with no gaps. */
export const MessageFrame = z.object({
  type: z.literal('message'),
  channel,
  seq: z.int().check(z.positive()),
  id: z.string(),
  event: z.string(),
  data: z.unknown(),
  ts: epochMs,
});
/** An ephemeral signal from another connection (never echoed to its sender). */
export const SignalPushFrame = z.object({ type: z.literal('signal'), channel, event: z.string(), userId: z.string(), data: z.unknown() });
/**
 * Who is present on a `room:` or `document:` channel: the reply to the
 * `presence` command (with its `ref`), and the snapshot a subscriber gets right
 * after `subscribed` or when the relay asks it to start over (no `ref`: replace
 * the member set). `members` is sorted by `userId` and holds at most the event
 * limit of users; `total` counts every present user (more than `members.length`:
 * the list was cut). `connections` is how many connections the user has there.
 */
export const PresenceReplyFrame = z.object({
  type: z.literal('presence'),
  channel,
  members: z.array(z.object({ userId: z.string(), connections: z.optional(z.int().check(z.positive())) })),
  total: z.optional(z.int().check(z.nonnegative())),
  ref,
});
/** A user's first connection anywhere in the fleet subscribed to a presence channel. */
export const JoinFrame = z.object({ type: z.literal('join'), channel, userId: z.string() });
/** A user's last connection left a presence channel (unsubscribe, close, revoke), or their relay died. */
export const LeaveFrame = z.object({ type: z.literal('leave'), channel, userId: z.string() });
/** The relay lost its broker connection for a while: fetch history after your last seq. */
export const ResyncFrame = z.object({ type: z.literal('resync'), channel });
export const PongFrame = z.object({ type: z.literal('pong'), ref });
/** A refused command; the connection stays open. `code` is one of ErrorCode. */
export const ErrorFrame = z.object({ type: z.literal('error'), ref, code: z.enum(ERROR_CODES), message: z.string() });

export const ServerFrame = z.discriminatedUnion('type', [
  WelcomeFrame,
  RefreshedFrame,
  SubscribedFrame,
  UnsubscribedFrame,
  MessageFrame,
  SignalPushFrame,
  PresenceReplyFrame,
  JoinFrame,
  LeaveFrame,
  ResyncFrame,
  PongFrame,
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ServerFrameType = ServerFrame['type'];
