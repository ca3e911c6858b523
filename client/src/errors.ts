import type { ClientErrorCode } from './types.js';

/**
 * A failed SDK call. `status` is set for an HTTP answer (`code` is then the
 * API's error code, e.g. `forbidden`); otherwise `code` is one of ClientErrorCode.
 */
export class TownsquareError extends Error {
  override readonly name = 'TownsquareError';
  constructor(
    readonly code: ClientErrorCode | string,
    message: string,
    readonly status?: number,
    /** From a 429/503 answer (`Retry-After` or the body) or a history page, clamped to 0…60 s: when trying again makes sense. */
    readonly retryAfterMs?: number,
    /** Set on a rejected `send`: pass it back as `send(…, { clientMessageId })` to retry without a duplicate. */
    readonly clientMessageId?: string,
    /** The last underlying failure (a send given up after retries). */
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
