/**
 * Reads one room membership from the memberships table: all the relay needs
 * for access checks (and all its IAM role allows), and the read the functions'
 * room store delegates to. Strongly consistent, so a member removed a moment
 * ago is refused.
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromAttributes, toAttributes } from './dynamo-items.js';

/** The read that a room's access policy makes (shared/channel-access.ts). */
export interface MembershipReader {
  /** The stored membership, or null when `userId` is not a member of `roomId`. */
  getMembership(roomId: string, userId: string): Promise<object | null>;
}

/**
 * `M` is the item's shape as the caller types it (the functions' `Membership`);
 * the relay only asks whether there is one.
 */
export class DynamoMembershipReader<M extends object = Record<string, unknown>> implements MembershipReader {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly membershipsTable: string,
  ) {}

  async getMembership(roomId: string, userId: string): Promise<M | null> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.membershipsTable, Key: toAttributes({ roomId, userId }), ConsistentRead: true }),
    );
    return fromAttributes<M>(Item);
  }
}
