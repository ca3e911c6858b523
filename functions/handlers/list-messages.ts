/** GET /rooms/{roomId}/messages?afterSeq=&limit= → {messages (ascending seq), nextAfterSeq}. */
import { z } from 'zod';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, listMessages } from '../domain/messages.js';
import { getDeps } from '../lib/deps.js';
import { httpHandler, json, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';

const Query = z.object({
  afterSeq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(HISTORY_MAX_LIMIT).default(HISTORY_DEFAULT_LIMIT),
});

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const query = validate(Query, event.queryStringParameters ?? {}, 'query');
  return json(200, await listMessages(getDeps(), { roomId, userId: caller.userId, ...query }));
});
