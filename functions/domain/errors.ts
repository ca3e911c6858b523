/**
 * Domain errors: a stable `code` from the protocol's table, a message that
 * says what to fix, and the `cause` when one exists. The HTTP layer maps the
 * code to a status; domain code never thinks in status codes.
 */
import { ErrorCode } from '../../protocol/codes.js';

export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const forbidden = (message: string) => new DomainError(ErrorCode.Forbidden, message);
export const notFound = (message: string) => new DomainError(ErrorCode.NotFound, message);
export const conflict = (message: string) => new DomainError(ErrorCode.Conflict, message);
export const badRequest = (message: string) => new DomainError(ErrorCode.BadRequest, message);
export const limitExceeded = (message: string) => new DomainError(ErrorCode.LimitExceeded, message);
