/**
 * GET /rooms/{roomId}/messages?afterSeq=&limit= → {messages (ascending seq), nextAfterSeq}.
 * The v1 room history, kept as an alias of GET /channels/room%3A{roomId}/messages
 * that returns chat messages only (see functions/domain/messages.ts).
 */
import * as z from '../../protocol/zod.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, listMessages } from '../domain/messages.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';

/** The history routes' query string (this route and GET /channels/{channel}/messages). */
export const HistoryQuery = z.object({
  afterSeq: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 0),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(HISTORY_MAX_LIMIT)), HISTORY_DEFAULT_LIMIT),
});

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const query = validate(HistoryQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listMessages(getStores(), { roomId, userId: caller.userId, ...query }));
});
