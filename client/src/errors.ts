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
    /** From a 429/503 answer or a history page: when trying again makes sense. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
