/**
 * The Redis envelope: what functions publish and relays forward. Versioned and
 * validated by the relay before anything reaches a client.
 */
import { MAX_CHANNEL_LENGTH, USER_ID_PATTERN } from './channels.js';
import { EVENT_PATTERN } from './frames.js';
import { checkJsonShape, type JsonShapeLimits } from './json-limits.js';
import * as z from './zod.js';

export const ENVELOPE_VERSION = 1;

const channel = z.string().check(z.minLength(1), z.maxLength(MAX_CHANNEL_LENGTH));
const event = z.string().check(z.regex(EVENT_PATTERN));

/** A durable message: already stored with its per-channel `seq`. */
export const MessageEnvelope = z.object({
  v: z.literal(ENVELOPE_VERSION),
  kind: z.literal('message'),
  channel,
  seq: z.int().check(z.positive()),
  id: z.string().check(z.minLength(1)),
  event,
  data: z.unknown(),
  ts: z.int(),
});

/** An ephemeral client signal (typing, cursor); `origin` is the sending connection, which is not echoed. */
export const SignalEnvelope = z.object({
  v: z.literal(ENVELOPE_VERSION),
  kind: z.literal('signal'),
  channel,
  event,
  userId: z.string().check(z.minLength(1)),
  data: z.unknown(),
  origin: z.optional(z.string()),
});

/** Access revoked: every relay drops `userId`'s subscriptions to `channel` at once. */
export const RevokeEnvelope = z.object({
  v: z.literal(ENVELOPE_VERSION),
  kind: z.literal('revoke'),
  channel,
  userId: z.string().check(z.minLength(1)),
});

/**
 * A presence change on a `room:` or `document:` channel, published by the
 * relay's presence script in the same atomic step as the change itself:
 * `join` (the user's first connection anywhere in the fleet subscribed),
 * `leave` (their last one went, or their relay died), or `reset` (this
 * user's join or leave moved the channel across the event limit: relays send
 * their subscribers a fresh snapshot instead of an event).
 */
export const PresenceEnvelope = z.object({
  v: z.literal(ENVELOPE_VERSION),
  kind: z.literal('presence'),
  channel,
  event: z.enum(['join', 'leave', 'reset']),
  userId: z.string().check(z.regex(USER_ID_PATTERN)),
});

export const Envelope = z.discriminatedUnion('kind', [MessageEnvelope, SignalEnvelope, RevokeEnvelope, PresenceEnvelope]);
export type Envelope = z.infer<typeof Envelope>;
export type MessageEnvelope = z.infer<typeof MessageEnvelope>;
export type SignalEnvelope = z.infer<typeof SignalEnvelope>;
export type RevokeEnvelope = z.infer<typeof RevokeEnvelope>;
export type PresenceEnvelope = z.infer<typeof PresenceEnvelope>;

/**
 * Shape bounds of an envelope, checked before it is parsed: far above what
 * functions and relays publish (a signal's data nests at most 15 levels), and
 * low enough that serializing a valid envelope can never overflow the stack.
 */
export const ENVELOPE_SHAPE: JsonShapeLimits = { maxDepth: 32, maxElements: 100_000 };
/** Largest payload a relay accepts from the broker. */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;

/** Parses a raw Redis payload; returns `null` (never throws) when it is not a valid envelope. */
export function decodeEnvelope(raw: string): Envelope | null {
  // UTF-8 is never shorter than the UTF-16 length: a cheap cut that refuses nothing within the limit.
  if (raw.length > MAX_ENVELOPE_BYTES || checkJsonShape(raw, ENVELOPE_SHAPE)) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = Envelope.safeParse(value);
  return parsed.success ? parsed.data : null;
}

export const encodeEnvelope = (envelope: Envelope): string => JSON.stringify(envelope);
