/**
 * PATCH /rooms/{roomId}/members/{userId} {role} → 200 the member's membership.
 * Only the owner changes roles; `owner` transfers ownership (the caller becomes admin).
 */
import { ChangeRoleBody } from '../../protocol/index.js';
import { changeRole } from '../domain/rooms.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { MemberPath } from '../lib/params.js';

export const handler = httpHandler(async (event, caller) => {
  const { roomId, userId } = validate(MemberPath, event.pathParameters, 'path');
  const { role } = parseBody(event, ChangeRoleBody);
  return json(200, await changeRole(getStores(), caller.userId, roomId, userId, role));
});
