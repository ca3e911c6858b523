/**
 * POST /rooms/{roomId}/members {userId, role?} → 201 added, 200 already a member
 * (unchanged). Owner and admins may add; only the owner may add an admin.
 */
import * as z from '../../protocol/zod.js';
import { addMember } from '../domain/rooms.js';
import { ADDABLE_ROLES } from '../domain/roles.js';
import { getRoomLimits } from '../lib/limits.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { RoomPath, userId } from '../lib/params.js';

const Body = z.object({ userId, role: z.optional(z.enum(ADDABLE_ROLES, 'must be "member" or "admin" (ownership moves with PATCH …/members/{userId})')) });

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const body = parseBody(event, Body);
  const { membership, created } = await addMember({ ...getStores(), ...getRoomLimits() }, caller.userId, roomId, body.userId, body.role);
  return json(created ? 201 : 200, membership);
});
