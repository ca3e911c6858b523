/**
 * WebSocket close codes and protocol error codes, shared by relay and client.
 *
 * Close codes (protocol v2) follow the ranges Centrifugo documents, so a
 * client decides from the number alone whether reconnecting can help:
 * - 1000–2999, standard (RFC 6455): reconnect, except the ones that say the
 *   client itself broke the protocol (1002, 1003, 1007, 1008, 1010).
 * - 3000–3499 and 4000–4499: reconnect (with backoff). 4005 asks for a fresh
 *   token first; 4009 for a backfill from history after reconnecting.
 * - 3500–3999 and 4500–4999: terminal; do not reconnect until something changes
 *   (a different token, a fixed client).
 * v1 used 4001 (unauthorized and expired alike) and 4008; v2 relays never send them.
 */
export const CloseCode = {
  /** Normal close requested by either side. */
  Normal: 1000,
  /** Frame larger than the relay's `maxPayload`. */
  FrameTooLarge: 1009,
  /** An unexpected error in the relay while handling this connection; reconnect. */
  InternalError: 1011,
  /** Relay is shutting down; reconnect (to another relay). */
  RelayRestarting: 1012,
  /** The relay cannot verify tokens right now (the issuer's keys are unavailable); reconnect after a pause. */
  TryAgainLater: 1013,
  /** No `auth` frame arrived in time (a slow link, a token fetched too late): reconnect and authenticate at once. */
  AuthTimeout: 4002,
  /**
   * The token expired (on an open connection, or at `auth`), or is not valid yet (an
   * issuer clock ahead of the relay's): fetch a new token, then reconnect.
   */
  TokenExpired: 4005,
  /** The client did not read fast enough; its send queue overflowed. Reconnect, then backfill from history. */
  TooSlow: 4009,
  /** The user already holds MAX_CONNECTIONS_PER_USER connections on this relay: reconnect with backoff (a slot frees, or another relay). */
  TooManyConnections: 4029,
  /** Missing, invalid or forged token, or a first frame that is not `auth`. */
  Unauthorized: 4501,
  /** Rate or policy limit exceeded (flooding, binary frames). */
  PolicyViolation: 4508,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Standard codes that mean the client broke the protocol, or sent a frame too large
 * (1009): reconnecting would only repeat it.
 */
const TERMINAL_STANDARD_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

/**
 * Whether a client should reconnect (with backoff) after the connection closed
 * with `code`. Decided by the code alone; codes nobody defined reconnect.
 */
export function shouldReconnect(code: number): boolean {
  if (code >= 3500 && code < 4000) return false;
  if (code >= 4500 && code < 5000) return false;
  return !TERMINAL_STANDARD_CODES.has(code);
}

/** Stable codes carried by `error` frames and HTTP error bodies. */
export const ErrorCode = {
  BadRequest: 'bad_request',
  InvalidJson: 'invalid_json',
  UnknownType: 'unknown_type',
  InvalidChannel: 'invalid_channel',
  Unauthorized: 'unauthorized',
  /** A `refresh` token that has expired: fetch a new one and refresh again. */
  TokenExpired: 'token_expired',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  Conflict: 'conflict',
  PayloadTooLarge: 'payload_too_large',
  /** A frame nested too deep or with too many members (see CLIENT_FRAME_SHAPE). */
  FrameTooComplex: 'frame_too_complex',
  RateLimited: 'rate_limited',
  TooManySubscriptions: 'too_many_subscriptions',
  NotSubscribed: 'not_subscribed',
  Unavailable: 'unavailable',
  Internal: 'internal',
  /** HTTP 409: a per-user cap is reached (e.g. the rooms one user may belong to). */
  LimitExceeded: 'limit_exceeded',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
/** Every error code, for a closed `z.enum` (error frames, HTTP error bodies). */
export const ERROR_CODES = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];
