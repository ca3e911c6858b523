/**
 * POST /rooms/{roomId}/members {userId, role?} → 201 added, 200 already a member
 * (unchanged). Owner and admins may add; only the owner may add an admin.
 */
import { AddMemberBody } from '../../protocol/index.js';
import { addMember } from '../domain/rooms.js';
import { getRoomLimits } from '../lib/limits.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const body = parseBody(event, AddMemberBody);
  const { membership, created } = await addMember({ ...getStores(), ...getRoomLimits() }, caller.userId, roomId, body.userId, body.role);
  return json(created ? 201 : 200, membership);
});
