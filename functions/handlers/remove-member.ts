/** DELETE /rooms/{roomId}/members/{userId} → 204. Leave, or remove someone (owner: anyone; admin: members). */
import { removeMember } from '../domain/rooms.js';
import { logger } from '../lib/logger.js';
import { getRawPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, validate } from '../lib/http.js';
import { MemberPath } from '../lib/params.js';

const logRevokeFailure = (error: unknown, revoke: { roomId: string; userId: string; attempts: number }) =>
  logger.error('revoke publish failed after the member was removed; relays drop the subscription at their next access re-check', { error: error as Error, ...revoke });

export const handler = httpHandler(async (event, caller, deadline) => {
  const { roomId, userId } = validate(MemberPath, event.pathParameters, 'path');
  await removeMember({ ...getStores(), publisher: getRawPublisher(), onRevokeFailed: logRevokeFailure, deadline }, caller.userId, roomId, userId);
  return { statusCode: 204 };
});
