/**
 * What the relay does with each client frame after authentication. Every
 * refusal is an `error` frame echoing the `ref`; the connection stays open
 * unless the client is flooding (close PolicyViolation).
 */
import { errors as joseErrors } from 'jose';
import type { Logger } from 'pino';
import type { Publisher } from '../broker/types.js';
import {
  checkJsonShape,
  ClientFrame,
  CLIENT_FRAME_SHAPE,
  CLIENT_FRAME_TYPES,
  describeJsonShapeProblem,
  encodeEnvelope,
  ENVELOPE_VERSION,
  ErrorCode,
  CloseCode,
} from '../protocol/index.js';
import { READABLE_ERRORS } from '../protocol/zod.js';
import { TokenError, type TokenVerifier, type VerifiedToken } from '../shared/token-verifier.js';
import type { ChannelAccess } from '../shared/channel-access.js';
import type { Connection } from './connection.js';
import type { Hub } from './hub.js';
import type { RelayMetrics } from './metrics.js';
import type { Presence } from './presence.js';
import { hasPresence } from './presence-rules.js';
import { snapshotFrame, type PresenceSnapshots } from './presence-snapshots.js';
import { TokenBucket } from './token-bucket.js';
import { withTimeout } from '../shared/with-timeout.js';

export interface CommandContext {
  hub: Hub;
  access: ChannelAccess;
  publisher: Publisher;
  presence: Presence;
  /** Sends new subscribers of presence channels their member snapshot. */
  snapshots: PresenceSnapshots;
  /** The same verifier (and rules) as the `auth` frame's; `refresh` uses it. */
  verifyToken: TokenVerifier;
  logger: Logger;
  metrics?: RelayMetrics;
}

type Ref = string | number | undefined;

/** How long a subscribe waits for the broker (e.g. Redis reconnecting) before answering `unavailable`. */
const BROKER_TIMEOUT_MS = 5000;
/**
 * How long a subscribe or unsubscribe waits for its presence change, and a
 * `presence` query for its answer: the connection's next commands wait behind
 * them. Presence is best-effort; a change still under way goes on, in order
 * with the channel's others.
 */
const PRESENCE_TIMEOUT_MS = 2000;

/** Records or removes a presence entry, waiting at most PRESENCE_TIMEOUT_MS (never throws). */
async function presenceChange(ctx: CommandContext, change: 'join' | 'leave', channel: string, connection: Connection): Promise<void> {
  try {
    await withTimeout(ctx.presence[change](channel, connection), PRESENCE_TIMEOUT_MS, `presence ${change} timed out`);
  } catch (err) {
    ctx.logger.debug({ err, channel }, 'presence change still under way; answering without waiting for it');
  }
}


export function sendError(ctx: CommandContext, connection: Connection, ref: Ref, code: ErrorCode, message: string): void {
  ctx.metrics?.clientErrors.inc({ code });
  connection.send({ type: 'error', ...(ref !== undefined && { ref }), code, message });
}

/** Longest message an error frame carries: errors describe the problem, they never repeat the input. */
const MAX_ERROR_MESSAGE = 240;

/**
 * Parses one text frame; malformed or unknown frames get an error frame. The
 * shape bounds are checked on the raw text first, so no value nested deeper
 * than CLIENT_FRAME_SHAPE ever exists in the relay.
 */
export function parseClientFrame(
  raw: string,
): { ok: true; frame: ClientFrame } | { ok: false; ref: Ref; code: ErrorCode; message: string } {
  const problem = checkJsonShape(raw, CLIENT_FRAME_SHAPE);
  if (problem) {
    return { ok: false, ref: undefined, code: ErrorCode.FrameTooComplex, message: describeJsonShapeProblem(problem, 'Frame') };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, ref: undefined, code: ErrorCode.InvalidJson, message: 'Frame is not valid JSON' };
  }
  const ref = refOf(value);
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !(CLIENT_FRAME_TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      ref,
      code: ErrorCode.UnknownType,
      message: `Frame needs a "type" of ${CLIENT_FRAME_TYPES.join(', ')}`,
    };
  }
  const parsed = ClientFrame.safeParse(value, READABLE_ERRORS);
  if (!parsed.success) {
    // zod's messages name the expectation, not the received value; paths are schema keys.
    const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; ');
    return { ok: false, ref, code: ErrorCode.BadRequest, message: `Invalid ${type} frame: ${details}`.slice(0, MAX_ERROR_MESSAGE) };
  }
  return { ok: true, frame: parsed.data };
}

/** The `ref` to echo: a string (at most 64 chars) or a safe integer, as the frame schemas allow. */
function refOf(value: unknown): Ref {
  const ref = typeof value === 'object' && value !== null ? (value as { ref?: unknown }).ref : undefined;
  return typeof ref === 'string' ? ref.slice(0, 64) : Number.isSafeInteger(ref) ? (ref as number) : undefined;
}

/** The `ref` of a raw frame that will not be handled (within the shape bounds: parsing it is cheap). */
export function refOfRaw(raw: string): Ref {
  const parsed = parseClientFrame(raw);
  return parsed.ok ? parsed.frame.ref : parsed.ref;
}

/** Handles one frame; the caller admitted it first (`Connection.admit`: rate and queue limits). */
export async function handleFrame(ctx: CommandContext, connection: Connection, raw: string): Promise<void> {
  const parsed = parseClientFrame(raw);
  if (!parsed.ok) return sendError(ctx, connection, parsed.ref, parsed.code, parsed.message);
  const frame = parsed.frame;
  switch (frame.type) {
    case 'auth':
      return sendError(ctx, connection, frame.ref, ErrorCode.BadRequest, 'Already authenticated; renew the token with a refresh frame');
    case 'refresh':
      return refresh(ctx, connection, frame.token, frame.ref);
    case 'ping':
      connection.send({ type: 'pong', ...(frame.ref !== undefined && { ref: frame.ref }) });
      return;
    case 'subscribe':
      return subscribe(ctx, connection, frame.channel, frame.ref);
    case 'unsubscribe':
      return unsubscribe(ctx, connection, frame.channel, frame.ref);
    case 'signal':
      return signal(ctx, connection, frame);
    case 'presence':
      return presence(ctx, connection, frame.channel, frame.ref);
  }
}

async function subscribe(ctx: CommandContext, connection: Connection, channel: string, ref: Ref): Promise<void> {
  if (connection.subscriptions.has(channel)) {
    connection.send({ type: 'subscribed', channel, ...(ref !== undefined && { ref }) });
    return;
  }
  if (connection.subscriptions.size >= connection.limits.maxSubscriptions) {
    return sendError(ctx, connection, ref, ErrorCode.TooManySubscriptions, `At most ${connection.limits.maxSubscriptions} subscriptions per connection`);
  }
  if (!connection.takeSubscribe()) {
    return sendError(ctx, connection, ref, ErrorCode.RateLimited, 'Too many subscribes for this user; retry in a second');
  }
  const startedAt = Date.now();
  const withPresence = hasPresence(channel);
  let decision;
  try {
    decision = await ctx.access.check(connection.userId, channel);
  } catch (err) {
    ctx.logger.error({ err, channel }, 'access check failed');
    return sendError(ctx, connection, ref, ErrorCode.Unavailable, 'Could not check access right now; retry');
  }
  if (!decision.allowed) return sendError(ctx, connection, ref, decision.code, decision.message);
  if (connection.closed) return;
  try {
    const becameActive = await withTimeout(ctx.hub.add(connection, channel, { holdPresence: withPresence }), BROKER_TIMEOUT_MS, `broker did not answer within ${BROKER_TIMEOUT_MS} ms`);
    // A revoke published before the broker subscription was active was not seen: check again.
    const recheck = becameActive ? await ctx.access.check(connection.userId, channel) : { allowed: true };
    if (!recheck.allowed || ctx.hub.revokedSince(channel, connection.userId, startedAt)) {
      ctx.hub.remove(connection, channel);
      return sendError(ctx, connection, ref, ErrorCode.Forbidden, `Access to ${channel} was revoked`);
    }
  } catch (err) {
    ctx.hub.remove(connection, channel);
    ctx.logger.error({ err, channel }, 'broker subscribe failed');
    return sendError(ctx, connection, ref, ErrorCode.Unavailable, 'Could not subscribe right now; retry');
  }
  if (connection.closed) {
    ctx.hub.remove(connection, channel);
    return;
  }
  await presenceChange(ctx, 'join', channel, connection);
  // A revoke may have arrived while presence was recorded; it already sent `unsubscribed`.
  if (!connection.subscriptions.has(channel)) {
    return sendError(ctx, connection, ref, ErrorCode.Forbidden, `Access to ${channel} was revoked`);
  }
  connection.send({ type: 'subscribed', channel, ...(ref !== undefined && { ref }) });
  if (withPresence) await ctx.snapshots.sendInitial(connection, channel);
}

async function unsubscribe(ctx: CommandContext, connection: Connection, channel: string, ref: Ref): Promise<void> {
  if (!ctx.hub.remove(connection, channel)) {
    return sendError(ctx, connection, ref, ErrorCode.NotSubscribed, `Not subscribed to ${channel.slice(0, 80)}`);
  }
  await presenceChange(ctx, 'leave', channel, connection);
  connection.send({ type: 'unsubscribed', channel, ...(ref !== undefined && { ref }) });
}

async function signal(
  ctx: CommandContext,
  connection: Connection,
  frame: Extract<ClientFrame, { type: 'signal' }>,
): Promise<void> {
  if (!connection.subscriptions.has(frame.channel)) {
    return sendError(ctx, connection, frame.ref, ErrorCode.NotSubscribed, 'Subscribe to a channel before signalling on it');
  }
  const data = frame.data ?? null;
  // Depth and member count were bounded before parsing; this bounds the size.
  const dataBytes = Buffer.byteLength(JSON.stringify(data));
  if (dataBytes > connection.limits.maxSignalBytes) {
    return sendError(ctx, connection, frame.ref, ErrorCode.PayloadTooLarge, `Signal data is ${dataBytes} bytes; at most ${connection.limits.maxSignalBytes}`);
  }
  if (!connection.takeSignal()) {
    return sendError(ctx, connection, frame.ref, ErrorCode.RateLimited, 'Too many signals from this user; slow down');
  }
  const envelope = encodeEnvelope({
    v: ENVELOPE_VERSION,
    kind: 'signal',
    channel: frame.channel,
    event: frame.event,
    userId: connection.userId,
    data,
    origin: connection.id,
  });
  try {
    await ctx.publisher.publish(frame.channel, envelope);
  } catch (err) {
    ctx.logger.warn({ err, channel: frame.channel }, 'signal publish failed');
    sendError(ctx, connection, frame.ref, ErrorCode.Unavailable, 'Signal not delivered; the broker is unavailable');
  }
}

async function presence(ctx: CommandContext, connection: Connection, channel: string, ref: Ref): Promise<void> {
  if (!connection.subscriptions.has(channel)) {
    return sendError(ctx, connection, ref, ErrorCode.NotSubscribed, 'Subscribe to a channel before asking who is present');
  }
  if (!hasPresence(channel)) {
    return sendError(ctx, connection, ref, ErrorCode.BadRequest, 'Presence exists on room: and document: channels only');
  }
  // A read of up to the event limit of members: it spends the user's subscribe budget.
  if (!connection.takeSubscribe()) {
    return sendError(ctx, connection, ref, ErrorCode.RateLimited, 'Too many subscribes and presence queries for this user; retry in a second');
  }
  try {
    const snapshot = await withTimeout(ctx.presence.snapshot(channel), PRESENCE_TIMEOUT_MS, 'presence lookup timed out');
    // A revoke while it was read ended the subscription: its members are no longer this user's to see.
    if (!connection.subscriptions.has(channel)) {
      return sendError(ctx, connection, ref, ErrorCode.NotSubscribed, 'Subscribe to a channel before asking who is present');
    }
    connection.send(snapshotFrame(channel, snapshot, ref));
  } catch (err) {
    ctx.logger.warn({ err, channel }, 'presence lookup failed');
    sendError(ctx, connection, ref, ErrorCode.Unavailable, 'Presence is unavailable right now; retry');
  }
}

/**
 * How a token the verifier refused is answered: at `auth` with a close code,
 * on `refresh` with an error frame. Only an expired token can be fixed by
 * fetching a new one, so only that one closes with a reconnect code.
 */
export function tokenRefusal(err: unknown): { close: CloseCode; code: ErrorCode; message: string } {
  if (err instanceof TokenError && err.retryable) return { close: CloseCode.TryAgainLater, code: ErrorCode.Unavailable, message: err.message };
  // TokenError messages are fixed descriptions; anything else is not shown to the client.
  const message = err instanceof TokenError ? err.message : 'token could not be verified';
  if (err instanceof TokenError && (err.notYetValid || err.cause instanceof joseErrors.JWTExpired)) {
    return { close: CloseCode.TokenExpired, code: ErrorCode.TokenExpired, message };
  }
  return { close: CloseCode.Unauthorized, code: ErrorCode.Unauthorized, message };
}

/**
 * Refreshes one connection may make: a burst of 5, then one per 10 s. A client
 * renews once per token lifetime; the bound keeps signature checks (CPU) cheap.
 */
export const REFRESH_BURST = 5;
const REFRESH_RATE_PER_SEC = 0.1;
/** Made at a connection's first refresh, and gone with the connection. */
const refreshBudgets = new WeakMap<Connection, TokenBucket>();

/**
 * Renews the token of an open connection. The new token is verified like the
 * `auth` token and must be for the same user; on any refusal the connection
 * keeps its old expiry.
 */
async function refresh(ctx: CommandContext, connection: Connection, raw: string, ref: Ref): Promise<void> {
  let budget = refreshBudgets.get(connection);
  if (!budget) refreshBudgets.set(connection, (budget = new TokenBucket(REFRESH_RATE_PER_SEC, REFRESH_BURST)));
  if (!budget.take()) {
    return sendError(ctx, connection, ref, ErrorCode.RateLimited, `Too many refreshes on this connection; ${REFRESH_BURST}, then one per 10 s`);
  }
  let token: VerifiedToken;
  try {
    token = await ctx.verifyToken(raw);
  } catch (err) {
    const refusal = tokenRefusal(err);
    if (refusal.code === ErrorCode.Unavailable) ctx.logger.warn({ err }, 'could not fetch the token issuer keys for a refresh');
    return sendError(ctx, connection, ref, refusal.code, refusal.code === ErrorCode.Unavailable ? 'Could not verify the token right now; retry' : `Refresh refused: ${refusal.message}`);
  }
  if (token.userId !== connection.userId) {
    return sendError(ctx, connection, ref, ErrorCode.Forbidden, 'Refresh refused: the token is for another user (reconnect to change users)');
  }
  // The expiry sweep may have closed the connection while the token was verified.
  if (connection.closed) return;
  connection.expiresAt = token.expiresAt;
  connection.send({ type: 'refreshed', expiresAt: token.expiresAt, ...(ref !== undefined && { ref }) });
}
