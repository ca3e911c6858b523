/** GET /rooms?limit=&cursor= → {rooms (by room id), nextCursor}: one page of the caller's rooms. */
import * as z from '../../protocol/zod.js';
import { listRooms, ROOMS_PAGE_DEFAULT_LIMIT, ROOMS_PAGE_MAX_LIMIT } from '../domain/rooms.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

const Query = z.object({
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(ROOMS_PAGE_MAX_LIMIT)), ROOMS_PAGE_DEFAULT_LIMIT),
  // Checked further (and refused when foreign or malformed) by the domain.
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(400))),
});

export const handler = httpHandler(async (event, caller) => {
  const query = validate(Query, event.queryStringParameters ?? {}, 'query');
  return json(200, await listRooms(getStores(), caller.userId, query));
});
