/**
 * The Redis envelope: what functions publish and relays forward. Versioned and
 * validated by the relay before anything reaches a client.
 */
import { MAX_CHANNEL_LENGTH } from './channels.js';
import * as z from './zod.js';

export const ENVELOPE_VERSION = 1;

const channel = z.string().check(z.minLength(1), z.maxLength(MAX_CHANNEL_LENGTH));
const event = z.string().check(z.minLength(1), z.maxLength(64));

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

export const Envelope = z.discriminatedUnion('kind', [MessageEnvelope, SignalEnvelope, RevokeEnvelope]);
export type Envelope = z.infer<typeof Envelope>;
export type MessageEnvelope = z.infer<typeof MessageEnvelope>;
export type SignalEnvelope = z.infer<typeof SignalEnvelope>;
export type RevokeEnvelope = z.infer<typeof RevokeEnvelope>;

/** Parses a raw Redis payload; returns `null` (never throws) when it is not a valid envelope. */
export function decodeEnvelope(raw: string): Envelope | null {
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
