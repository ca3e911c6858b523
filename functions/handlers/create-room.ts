/** POST /rooms {name} → 201 room; the caller becomes its first member. */
import * as z from '../../protocol/zod.js';
import { createRoom } from '../domain/rooms.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody } from '../lib/http.js';

const Body = z.object({ name: z.string().check(z.trim(), z.minLength(1), z.maxLength(100)) });

export const handler = httpHandler(async (event, caller) => {
  const { name } = parseBody(event, Body);
  return json(201, await createRoom(getStores(), caller.userId, name));
});
