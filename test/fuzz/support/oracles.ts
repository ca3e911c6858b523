/**
 * What the relay and the API may answer to hostile input. The code tables come
 * from protocol/, so a code added there is accepted here without an edit.
 */
import { CloseCode, ENVELOPE_VERSION, ErrorCode, JoinFrame, LeaveFrame, MessageEnvelope, PresenceReplyFrame, SignalEnvelope } from '../../../protocol/index.js';
import type { Ended } from './fuzz-socket.js';

/** ws's own codes besides the protocol's: protocol error, invalid UTF-8, too large. */
const WS_CLOSE_CODES = [1002, 1007, 1009];
/**
 * Documented, but each one means the relay hit an error of its own (a bug), not that
 * it refused the input: under fuzzing they are failures.
 */
const BUG_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.InternalError]);
const BUG_ERROR_CODES: ReadonlySet<string> = new Set([ErrorCode.Internal]);
export const DOCUMENTED_CLOSE_CODES: ReadonlySet<number> = new Set(
  [...Object.values(CloseCode), ...WS_CLOSE_CODES].filter((code) => !BUG_CLOSE_CODES.has(code)),
);
export const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode).filter((code) => !BUG_ERROR_CODES.has(code)));
/** An error message describes; it does not repeat the input. Longer ones echo something. */
export const MAX_ERROR_MESSAGE_CHARS = 1000;
/** HTTP statuses of the documented error codes (docs/http-api.md); codes not listed may use any 4xx. */
const HTTP_STATUS_OF: Record<string, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.InvalidJson]: 400,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.RateLimited]: 429,
};
/** API Gateway's own refusals, before any function runs. */
const GATEWAY_STATUSES = new Set([401, 404, 413]);

export function closeProblem(ended: Ended): string | null {
  return DOCUMENTED_CLOSE_CODES.has(ended.code) ? null : `closed with undocumented code ${ended.code} (${JSON.stringify(ended.reason)})`;
}

/** Why a frame the relay sent is not well-formed, or null. */
export function serverFrameProblem(value: unknown, raw: string): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `relay sent a non-object frame: ${raw.slice(0, 120)}`;
  const { type, ...rest } = value as Record<string, unknown>;
  if (typeof type !== 'string') return `relay sent a frame without a string type: ${raw.slice(0, 120)}`;
  switch (type) {
    case 'error': {
      const { code, message } = rest;
      if (typeof code !== 'string' || !ERROR_CODES.has(code)) return `error frame with undocumented code ${JSON.stringify(code)?.slice(0, 80)}`;
      if (typeof message !== 'string') return 'error frame without a message';
      if (message.length > MAX_ERROR_MESSAGE_CHARS) return `error message of ${message.length} chars (${code}): ${message.slice(0, 80)}…`;
      return null;
    }
    case 'signal': {
      const parsed = SignalEnvelope.safeParse({ ...rest, v: ENVELOPE_VERSION, kind: 'signal' });
      return parsed.success && 'data' in rest ? null : `malformed signal frame: ${raw.slice(0, 160)}`;
    }
    case 'message': {
      const parsed = MessageEnvelope.safeParse({ ...rest, v: ENVELOPE_VERSION, kind: 'message' });
      return parsed.success && 'data' in rest ? null : `malformed message frame: ${raw.slice(0, 160)}`;
    }
    case 'join':
    case 'leave': {
      const parsed = (type === 'join' ? JoinFrame : LeaveFrame).safeParse(value);
      return parsed.success && Object.keys(rest).length === 2 ? null : `malformed ${type} frame: ${raw.slice(0, 160)}`;
    }
    case 'presence':
      return PresenceReplyFrame.safeParse(value).success ? null : `malformed presence frame: ${raw.slice(0, 160)}`;
    default:
      return null;
  }
}

/** Why an HTTP response is not an acceptable answer, or null. */
export function httpProblem(status: number, body: string): string | null {
  if (status >= 500) return `HTTP ${status}: ${body.slice(0, 200)}`;
  if (status < 200 || (status >= 300 && status < 400)) return `unexpected HTTP ${status}`;
  let value: unknown;
  if (body !== '') {
    try {
      value = JSON.parse(body);
    } catch {
      return `HTTP ${status} with a body that is not JSON: ${body.slice(0, 120)}`;
    }
  }
  if (status < 300) return null;
  if (body === '') return `HTTP ${status} without a body`;
  const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error === 'object') {
    if (typeof error.code !== 'string' || !ERROR_CODES.has(error.code)) return `HTTP ${status} with undocumented code ${JSON.stringify(error.code)}`;
    if (typeof error.message !== 'string') return `HTTP ${status} ${error.code} without a message`;
    if (error.message.length > MAX_ERROR_MESSAGE_CHARS) return `HTTP ${status} ${error.code}: message of ${error.message.length} chars`;
    const expected = HTTP_STATUS_OF[error.code];
    if (expected !== undefined && expected !== status) return `HTTP ${status} with code ${error.code} (documented as ${expected})`;
    return null;
  }
  const gateway = value as { message?: unknown } | null;
  if (GATEWAY_STATUSES.has(status) && gateway && typeof gateway.message === 'string' && Object.keys(gateway).length === 1) return null;
  return `HTTP ${status} with an undocumented body: ${body.slice(0, 160)}`;
}

/** Counts outcomes (error codes, close codes, statuses) so a run shows what it reached. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  /** Error frames and close codes of a socket's life. */
  addSocket(received: ReadonlyArray<{ value: unknown }>, ended: { code: number } | null): void {
    for (const r of received) {
      const v = r.value as { type?: unknown; code?: unknown } | undefined;
      if (v?.type === 'error') this.add(`error:${String(v.code)}`);
      else if (typeof v?.type === 'string') this.add(`frame:${v.type}`);
    }
    if (ended) this.add(`close:${ended.code}`);
  }
  toString(): string {
    return [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(' ');
  }
}
