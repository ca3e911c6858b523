/**
 * POST /rooms/{roomId}/messages {text, clientMessageId?} → 201 stored message
 * (200 with the same message when a retry of a stored clientMessageId).
 * A 201 says in `x-townsquare-published` whether live delivery went out; the
 * message is stored either way, so a failed publish is never an error.
 */
import { PUBLISHED_HEADER, SendMessageBody } from '../../protocol/index.js';
import { sendMessage } from '../domain/messages.js';
import { logger } from '../lib/logger.js';
import { getRawPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { RoomPath } from '../lib/params.js';
import { enforceSendRate } from '../lib/send-rate.js';

const logMentionFailure = (error: unknown, message: { roomId: string; id: string }) =>
  logger.warn('mention notifications not (all) stored; the message is', { error: error as Error, roomId: message.roomId, messageId: message.id });

const logPublishFailure = (error: unknown, entry: { channel: string; seq: number }) =>
  logger.error('publish failed after the message was stored; subscribers will backfill', { error: error as Error, channel: entry.channel, seq: entry.seq });

export const handler = httpHandler(async (event, caller, deadline) => {
  // Per-user limit first: a flooding caller costs one Redis round trip, not a DynamoDB write.
  const limited = await enforceSendRate(caller.userId);
  if (limited) return limited;
  const { roomId } = validate(RoomPath, event.pathParameters, 'path');
  const body = parseBody(event, SendMessageBody);
  const { message, created, published } = await sendMessage(
    { ...getStores(), publisher: getRawPublisher(), onPublishError: logPublishFailure, onMentionError: logMentionFailure, deadline },
    { roomId, userId: caller.userId, ...body },
  );
  const response = json(created ? 201 : 200, message);
  if (published !== null) response.headers = { ...response.headers, [PUBLISHED_HEADER]: String(published) };
  return response;
});
