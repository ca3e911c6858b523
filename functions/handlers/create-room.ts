/** POST /rooms {name} → 201 room; the caller becomes its first member. */
import { z } from 'zod';
import { createRoom } from '../domain/rooms.js';
import { getDeps } from '../lib/deps.js';
import { httpHandler, json, parseBody } from '../lib/http.js';

const Body = z.object({ name: z.string().trim().min(1).max(100) });

export const handler = httpHandler(async (event, caller) => {
  const { name } = parseBody(event, Body);
  return json(201, await createRoom(getDeps(), caller.userId, name));
});
