/**
 * A notification's content: the shape the live event and the inbox show, and
 * the bounds its `data` must keep (docs/http-api.md) before anything is written.
 */
import { checkJsonShape } from '../../protocol/index.js';
import { ErrorCode } from '../../protocol/codes.js';
import {
  MAX_NOTIFICATION_DATA_BYTES,
  MAX_NOTIFICATION_DATA_DEPTH,
  MAX_NOTIFICATION_DATA_ELEMENTS,
  type Notification,
} from '../../protocol/http.js';
import { badRequest, DomainError } from './errors.js';

export interface NotificationContent {
  type: string;
  title: string;
  body: string;
  data?: unknown;
}

/** The notification as the live event and the inbox show it. */
export function notificationOf(content: NotificationContent, id: string, createdAt: number): Notification {
  return {
    id,
    type: content.type,
    title: content.title,
    body: content.body,
    ...(content.data !== undefined && { data: content.data }),
    createdAt,
    read: false,
  };
}

/** 413 over MAX_NOTIFICATION_DATA_BYTES, 400 over the shape bounds or for what DynamoDB cannot store. */
export function checkData(data: unknown): void {
  if (data === undefined) return;
  const text = JSON.stringify(data);
  if (Buffer.byteLength(text, 'utf8') > MAX_NOTIFICATION_DATA_BYTES) {
    throw new DomainError(ErrorCode.PayloadTooLarge, `data: larger than ${MAX_NOTIFICATION_DATA_BYTES} bytes as JSON`);
  }
  const problem = checkJsonShape(text, { maxDepth: MAX_NOTIFICATION_DATA_DEPTH, maxElements: MAX_NOTIFICATION_DATA_ELEMENTS });
  if (problem?.bound === 'depth') throw badRequest(`data: nested deeper than ${MAX_NOTIFICATION_DATA_DEPTH} levels`);
  if (problem) throw badRequest(`data: more than ${MAX_NOTIFICATION_DATA_ELEMENTS} object members and array items`);
  const unstorable = unstorableIn(data, 'data');
  if (unstorable) throw badRequest(unstorable);
}

/**
 * What DynamoDB cannot store as sent (walked only after the shape bounds held):
 * numbers beyond ±(2^53 - 1), which JSON readers lose precision on anyway, or
 * closer to 0 than 1e-130 (DynamoDB's smallest), and empty object keys.
 */
function unstorableIn(value: unknown, path: string): string | null {
  if (typeof value === 'number') {
    const size = Math.abs(value);
    return size !== 0 && (size > Number.MAX_SAFE_INTEGER || size < 1e-130) ? `${path}: numbers must be 0 or between 1e-130 and 9007199254740991 in magnitude` : null;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const problem = unstorableIn(item, `${path}.${i}`);
      if (problem) return problem;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '') return `${path}: object keys must not be empty`;
      const problem = unstorableIn(item, `${path}.${key}`);
      if (problem) return problem;
    }
  }
  return null;
}
