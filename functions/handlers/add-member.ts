/** POST /rooms/{roomId}/members {userId} → 201 added, 200 already a member. Any member may invite. */
import * as z from '../../protocol/zod.js';
import { addMember } from '../domain/rooms.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { RoomPath, userId } from '../lib/params.js';

const Body = z.object({ userId });

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const body = parseBody(event, Body);
  const { membership, created } = await addMember(getStores(), caller.userId, roomId, body.userId);
  return json(created ? 201 : 200, membership);
});
