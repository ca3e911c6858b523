/**
 * GET /rooms/{roomId}/messages?afterSeq=&limit= → {messages (ascending seq), nextAfterSeq}.
 * The v1 room history, kept as an alias of GET /channels/room%3A{roomId}/messages
 * that returns chat messages only (see functions/domain/messages.ts).
 */
import { HistoryQuery } from '../../protocol/index.js';
import { listMessages } from '../domain/messages.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const query = validate(HistoryQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listMessages(getStores(), { roomId, userId: caller.userId, ...query }));
});
