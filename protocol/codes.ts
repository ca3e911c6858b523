/**
 * WebSocket close codes and protocol error codes, shared by relay and client.
 *
 * Close-code ranges (like Centrifugo's): the client decides from the range
 * whether reconnecting can help.
 * - 1000–2999: standard codes. 1012 (service restart) means "reconnect elsewhere".
 * - 4000–4099: application codes. Terminal for the same credentials (4001 needs a
 *   fresh token, 4008 a fixed client), except 4009 (too slow), after which the client
 *   reconnects and backfills from history.
 * - 4100–4199 are reserved for future reconnectable application codes.
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
  /** A dependency (the token issuer's keys) is briefly unavailable; reconnect after a pause. */
  TryAgainLater: 1013,
  /** Missing, invalid or expired token, or no auth frame in time. */
  Unauthorized: 4001,
  /** Rate or policy limit exceeded (flooding, too many subscriptions). */
  PolicyViolation: 4008,
  /** The client did not read fast enough; its send queue overflowed. */
  TooSlow: 4009,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Whether a client should reconnect after the relay closed with `code`. */
export function shouldReconnect(code: number): boolean {
  if (code === CloseCode.Unauthorized) return false; // needs a new token first
  if (code === CloseCode.PolicyViolation) return false;
  if (code >= 4000 && code < 4100) return code === CloseCode.TooSlow;
  return true;
}

/** Stable codes carried by `error` frames and HTTP error bodies. */
export const ErrorCode = {
  BadRequest: 'bad_request',
  InvalidJson: 'invalid_json',
  UnknownType: 'unknown_type',
  InvalidChannel: 'invalid_channel',
  Unauthorized: 'unauthorized',
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
