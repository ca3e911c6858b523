/**
 * The groups (rooms, documents) a user belongs to, read from the memberships
 * table's byUser index. Rooms and document collaborations share that index,
 * told apart by the group id's range (shared/member-groups.ts): each caller
 * passes the key condition on `roomId` that selects its kind.
 */
import { QueryCommand, type DynamoDBClient, type QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import type { Membership, MembershipPage } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';
import { MEMBERSHIPS_BY_USER_INDEX } from '../../shared/tables.js';

/** A key condition on the index's sort key `roomId`, e.g. `roomId >= :floor`, with its values. */
export interface GroupRange {
  condition: string;
  values: Record<string, string>;
}

/** One page of `userId`'s groups in `range`, after the group id `afterGroupId`. */
export async function listUserGroups(
  db: DynamoDBClient,
  membershipsTable: string,
  userId: string,
  range: GroupRange,
  page: { limit: number; afterGroupId?: string },
): Promise<MembershipPage> {
  // One item beyond the page tells whether more follow; a Query page stops at 1 MB.
  const want = page.limit + 1;
  const items: Membership[] = [];
  let start: AttributeMap | undefined = page.afterGroupId === undefined ? undefined : toAttributes({ userId, roomId: page.afterGroupId });
  do {
    const out: QueryCommandOutput = await db.send(
      new QueryCommand({
        TableName: membershipsTable,
        IndexName: MEMBERSHIPS_BY_USER_INDEX,
        KeyConditionExpression: `userId = :u AND ${range.condition}`,
        ExpressionAttributeValues: toAttributes({ ':u': userId, ...range.values }),
        Limit: want - items.length,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(out.Items ?? []).map((item) => fromAttributes<Membership>(item)));
    start = out.LastEvaluatedKey;
  } while (start && items.length < want);
  return { memberships: items.slice(0, page.limit), more: items.length > page.limit };
}

/** How many of `userId`'s groups in `range` there are, counting no further than `upTo`. */
export async function countUserGroups(
  db: DynamoDBClient,
  membershipsTable: string,
  userId: string,
  range: GroupRange,
  upTo: number,
  options: { addedByOthers?: boolean } = {},
): Promise<number> {
  let count = 0;
  if (upTo <= 0) return 0;
  let start: AttributeMap | undefined;
  do {
    const out: QueryCommandOutput = await db.send(
      new QueryCommand({
        TableName: membershipsTable,
        IndexName: MEMBERSHIPS_BY_USER_INDEX,
        KeyConditionExpression: `userId = :u AND ${range.condition}`,
        // The index projects every attribute, so `addedBy` can be filtered on.
        ...(options.addedByOthers && { FilterExpression: 'addedBy <> :u' }),
        ExpressionAttributeValues: toAttributes({ ':u': userId, ...range.values }),
        Select: 'COUNT',
        Limit: upTo - count,
        ExclusiveStartKey: start,
      }),
    );
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start && count < upTo);
  return Math.min(count, upTo);
}
