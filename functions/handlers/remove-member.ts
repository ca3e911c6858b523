/** DELETE /rooms/{roomId}/members/{userId} → 204. Leave, or remove someone (owner: anyone; admin: members). */
import { removeMember } from '../domain/rooms.js';
import { getPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, validate } from '../lib/http.js';
import { MemberPath } from '../lib/params.js';

export const handler = httpHandler(async (event, caller) => {
  const { roomId, userId } = validate(MemberPath, event.pathParameters, 'path');
  await removeMember({ ...getStores(), publisher: getPublisher() }, caller.userId, roomId, userId);
  return { statusCode: 204 };
});
