/**
 * DynamoDB's batch calls over any number of items: BatchGetItem in requests of
 * 100 keys, BatchWriteItem in requests of 25, all requests at once, and what
 * DynamoDB leaves unprocessed (throttling) asked for again with a growing pause.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';

/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_LIMIT = 100;
/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_LIMIT = 25;
/** How often a request is resent while DynamoDB leaves some of it unprocessed, with a growing pause. */
const UNPROCESSED_ATTEMPTS = 8;

/** The items stored under `keys` (missing ones left out), read strongly consistent. */
export async function batchGet<T>(
  db: DynamoDBClient,
  table: string,
  keys: ReadonlyArray<Record<string, unknown>>,
  projection?: string,
): Promise<T[]> {
  const pages = await Promise.all(
    chunk(keys, BATCH_GET_LIMIT).map(async (part) => {
      const found: T[] = [];
      let pending: AttributeMap[] | undefined = part.map((k) => toAttributes(k));
      for (let attempt = 0; pending?.length; attempt++) {
        if (attempt >= UNPROCESSED_ATTEMPTS) throw new UnprocessedError('BatchGetItem', pending.length);
        if (attempt > 0) await pause(attempt);
        const out: BatchGetItemCommandOutput = await db.send(
          new BatchGetItemCommand({
            RequestItems: { [table]: { Keys: pending, ConsistentRead: true, ...(projection && { ProjectionExpression: projection }) } },
          }),
        );
        found.push(...(out.Responses?.[table] ?? []).map((i) => fromAttributes<T>(i)));
        pending = out.UnprocessedKeys?.[table]?.Keys;
      }
      return found;
    }),
  );
  return pages.flat();
}

/**
 * Writes every request; `groups` of requests that belong together (e.g. an item and
 * its flag) are never split over two BatchWriteItem calls, though DynamoDB may still
 * process one and leave the other unprocessed (then resent).
 */
export async function batchWrite(db: DynamoDBClient, table: string, groups: ReadonlyArray<readonly WriteRequest[]>): Promise<void> {
  const calls: WriteRequest[][] = [];
  let current: WriteRequest[] = [];
  for (const group of groups) {
    if (current.length + group.length > BATCH_WRITE_LIMIT) {
      calls.push(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length > 0) calls.push(current);
  await Promise.all(
    calls.map(async (call) => {
      let pending: WriteRequest[] | undefined = call;
      for (let attempt = 0; pending?.length; attempt++) {
        if (attempt >= UNPROCESSED_ATTEMPTS) throw new UnprocessedError('BatchWriteItem', pending.length);
        if (attempt > 0) await pause(attempt);
        const out: BatchWriteItemCommandOutput = await db.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        pending = out.UnprocessedItems?.[table];
      }
    }),
  );
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

/** 50, 100, 200 … 1,600 ms (with jitter): DynamoDB's advice for unprocessed batch items. */
const pause = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(50 * 2 ** (attempt - 1), 1600) * (0.5 + Math.random() / 2)));

/** Throttled past every resend: named like the SDK's throttling errors, so the handler answers 503. */
export class UnprocessedError extends Error {
  override readonly name = 'ThrottlingException';
  constructor(action: string, left: number) {
    super(`${action}: ${left} items stayed unprocessed after ${UNPROCESSED_ATTEMPTS} attempts (throttled)`);
  }
}
