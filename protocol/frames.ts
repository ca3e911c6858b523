/**
 * WebSocket frames (JSON text, one object per frame). Client frames are zod
 * schemas validated by the relay; server frames are typed here so the relay
 * and the client SDK share one definition.
 */
import { MAX_CHANNEL_LENGTH } from './channels.js';
import type { JsonShapeLimits } from './json-limits.js';
import * as z from './zod.js';

/**
 * The shape bounds of every client frame, checked before it is parsed: a
 * signal's `data` (level 2 and below) may therefore nest 15 levels.
 */
export const CLIENT_FRAME_SHAPE: JsonShapeLimits = { maxDepth: 16, maxElements: 1000 };

/** Event names: short, printable, no spaces (`typing`, `cursor.move`, `awareness:update`). */
export const EVENT_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A client-chosen correlation id echoed by the reply. */
const ref = z.optional(z.union([z.string().check(z.maxLength(64)), z.int()]));
const channel = z.string().check(z.minLength(1), z.maxLength(MAX_CHANNEL_LENGTH));
const event = z.string().check(z.regex(EVENT_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ . : -'));

export const AuthFrame = z.object({ type: z.literal('auth'), token: z.string().check(z.minLength(1), z.maxLength(8192)), ref });
export const SubscribeFrame = z.object({ type: z.literal('subscribe'), channel, ref });
export const UnsubscribeFrame = z.object({ type: z.literal('unsubscribe'), channel, ref });
export const SignalFrame = z.object({ type: z.literal('signal'), channel, event, data: z.optional(z.unknown()), ref });
export const PresenceFrame = z.object({ type: z.literal('presence'), channel, ref });
export const PingFrame = z.object({ type: z.literal('ping'), ref });

export const ClientFrame = z.discriminatedUnion('type', [
  AuthFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  SignalFrame,
  PresenceFrame,
  PingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['type'];
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ['auth', 'subscribe', 'unsubscribe', 'signal', 'presence', 'ping'];

type Ref = string | number | undefined;

/** Frames the relay sends. */
export type ServerFrame =
  | { type: 'welcome'; connectionId: string; userId: string; ref?: Ref }
  | { type: 'subscribed'; channel: string; ref?: Ref }
  /** `reason` is set when the relay ends a subscription on its own (e.g. removed from the room). */
  | { type: 'unsubscribed'; channel: string; ref?: Ref; reason?: string }
  | { type: 'message'; channel: string; seq: number; id: string; event: string; data: unknown; ts: number }
  | { type: 'signal'; channel: string; event: string; userId: string; data: unknown }
  | { type: 'presence'; channel: string; members: Array<{ userId: string; connections: number }>; ref?: Ref }
  /** The relay lost its broker connection for a while: fetch history after your last seq. */
  | { type: 'resync'; channel: string }
  | { type: 'pong'; ref?: Ref }
  | { type: 'error'; ref?: Ref; code: string; message: string };
