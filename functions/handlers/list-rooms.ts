/** GET /rooms?limit=&cursor= → {rooms (by room id), nextCursor}: one page of the caller's rooms. */
import { RoomsQuery } from '../../protocol/index.js';
import { listRooms } from '../domain/rooms.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const query = validate(RoomsQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listRooms(getStores(), caller.userId, query));
});
