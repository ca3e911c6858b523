/** GET /rooms → the caller's rooms. */
import { listRooms } from '../domain/rooms.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json } from '../lib/http.js';

export const handler = httpHandler(async (_event, caller) => {
  return json(200, { rooms: await listRooms(getStores(), caller.userId) });
});
