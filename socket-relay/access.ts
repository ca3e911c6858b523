/**
 * Who may subscribe to what: `room:{id}` for members (read from the
 * memberships table), `user:{id}` for that user only. Document channels are
 * refused until collaborative documents exist.
 */
import { parseChannel } from '../protocol/index.js';

export interface MembershipReader {
  getMembership(roomId: string, userId: string): Promise<unknown | null>;
}

export type AccessDecision = { allowed: true } | { allowed: false; code: 'invalid_channel' | 'forbidden'; message: string };

export class ChannelAccess {
  constructor(private readonly memberships: MembershipReader) {}

  async check(userId: string, channel: string): Promise<AccessDecision> {
    const parsed = parseChannel(channel);
    if (!parsed) {
      return {
        allowed: false,
        code: 'invalid_channel',
        message: `Unknown or malformed channel "${channel.slice(0, 80)}"; expected room:{roomId} or user:{userId}`,
      };
    }
    switch (parsed.kind) {
      case 'user':
        return parsed.id === userId
          ? { allowed: true }
          : { allowed: false, code: 'forbidden', message: 'You may only subscribe to your own user channel' };
      case 'room':
        return (await this.memberships.getMembership(parsed.id, userId))
          ? { allowed: true }
          : { allowed: false, code: 'forbidden', message: `You are not a member of room ${parsed.id}` };
      case 'document':
        return { allowed: false, code: 'forbidden', message: 'Document channels are not available yet' };
    }
  }
}
