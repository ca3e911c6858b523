/**
 * POST /rooms/{roomId}/messages {text, clientMessageId?} → 201 stored message
 * (200 with the same message when a retry of a stored clientMessageId).
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../protocol/index.js';
import { sendMessage } from '../domain/messages.js';
import { getDeps } from '../lib/deps.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';

export const MAX_TEXT_LENGTH = 4000;

const Body = z.object({
  text: z.string().min(1).max(MAX_TEXT_LENGTH),
  clientMessageId: z.string().regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ -').optional(),
});

export const handler = httpHandler(async (event, caller) => {
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const body = parseBody(event, Body);
  const { message, created } = await sendMessage(getDeps(), { roomId, userId: caller.userId, ...body });
  return json(created ? 201 : 200, message);
});
