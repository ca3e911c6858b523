/**
 * POST /rooms {name} → 201 room; the caller becomes its owner. The name is
 * normalized and checked by the domain (functions/domain/display-name.ts).
 */
import { CreateRoomBody } from '../../protocol/index.js';
import { createRoom } from '../domain/rooms.js';
import { getRoomLimits } from '../lib/limits.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const { name } = parseBody(event, CreateRoomBody);
  return json(201, await createRoom({ ...getStores(), ...getRoomLimits() }, caller.userId, name));
});
