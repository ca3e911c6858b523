/**
 * POST /rooms/{roomId}/messages {text, clientMessageId?} → 201 stored message
 * (200 with the same message when a retry of a stored clientMessageId).
 */
import * as z from '../../protocol/zod.js';
import { ID_PATTERN } from '../../protocol/index.js';
import { sendMessage } from '../domain/messages.js';
import { getPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';

export const MAX_TEXT_LENGTH = 4000;

const Body = z.object({
  text: z.string().check(z.minLength(1), z.maxLength(MAX_TEXT_LENGTH)),
  clientMessageId: z.optional(z.string().check(z.regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ -'))),
});

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const body = parseBody(event, Body);
  const { message, created } = await sendMessage({ ...getStores(), publisher: getPublisher() }, { roomId, userId: caller.userId, ...body });
  return json(created ? 201 : 200, message);
});
