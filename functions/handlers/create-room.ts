/**
 * POST /rooms {name} → 201 room; the caller becomes its owner. The name is
 * normalized and checked by the domain (functions/domain/display-name.ts).
 */
import * as z from '../../protocol/zod.js';
import { createRoom } from '../domain/rooms.js';
import { getRoomLimits } from '../lib/limits.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody } from '../lib/http.js';

const Body = z.object({ name: z.string() });

export const handler = httpHandler(async (event, caller) => {
  const { name } = parseBody(event, Body);
  return json(201, await createRoom({ ...getStores(), ...getRoomLimits() }, caller.userId, name));
});
