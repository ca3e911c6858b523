/**
 * Reads many room memberships at once for the periodic access re-check:
 * BatchGetItem, 100 keys a request (DynamoDB's limit), only the key
 * attributes. Eventually consistent: half the read cost of a consistent
 * read, and a deletion is visible within about a second, well inside the
 * re-check bound. A membership it misses is confirmed with a consistent read
 * before a subscription is ended (socket-relay/access-recheck.ts).
 */
import { BatchGetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface MembershipKey {
  roomId: string;
  userId: string;
}

export interface MembershipBatchReader {
  /**
   * Which of `keys` are memberships (`found`), and which could not be read (`unread`:
   * a batch that failed), as `membershipKey()` strings. One failing batch leaves the
   * others' answers standing.
   */
  existing(keys: readonly MembershipKey[]): Promise<{ found: Set<string>; unread: Set<string> }>;
}

export const membershipKey = (k: MembershipKey): string => `${k.roomId}\n${k.userId}`;

/** DynamoDB's BatchGetItem limit. */
const BATCH_SIZE = 100;
/** Requests in flight at once: a pass over 50,000 subscriptions is 500 requests. */
const CONCURRENCY = 4;
/** Rounds for keys DynamoDB left unprocessed (throttling) before giving up on them. */
const UNPROCESSED_ROUNDS = 4;

export class DynamoMembershipBatchReader implements MembershipBatchReader {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
  ) {}

  async existing(keys: readonly MembershipKey[]): Promise<{ found: Set<string>; unread: Set<string> }> {
    const found = new Set<string>();
    const unread = new Set<string>();
    const batches: MembershipKey[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_SIZE) batches.push(keys.slice(i, i + BATCH_SIZE));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        await this.readBatch(batch, found).catch(() => {
          for (const k of batch) unread.add(membershipKey(k));
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batches.length) }, worker));
    return { found, unread };
  }

  private async readBatch(batch: MembershipKey[], found: Set<string>): Promise<void> {
    let pending: Record<string, AttributeValue>[] = batch.map((k) => ({ roomId: { S: k.roomId }, userId: { S: k.userId } }));
    for (let round = 0; pending.length > 0; round++) {
      if (round === UNPROCESSED_ROUNDS) throw new Error(`DynamoDB left ${pending.length} membership reads unprocessed after ${round} rounds`);
      if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
      const out = await this.db.send(
        new BatchGetItemCommand({
          RequestItems: { [this.table]: { Keys: pending, ProjectionExpression: 'roomId, userId' } },
        }),
      );
      for (const item of out.Responses?.[this.table] ?? []) {
        if (item.roomId?.S && item.userId?.S) found.add(membershipKey({ roomId: item.roomId.S, userId: item.userId.S }));
      }
      pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
  }
}
