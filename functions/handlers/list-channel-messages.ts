/**
 * GET /channels/{channel}/messages?afterSeq=&limit= → {messages, nextAfterSeq}:
 * the history of any durable channel the caller may read, each item
 * `{seq, id, event, data, ts}` (tombstones have `event: "gap"`). The channel is
 * URL-encoded in the path: `/channels/room%3Ar_abc/messages`.
 */
import { ChannelPath, HistoryQuery } from '../../protocol/index.js';
import { listChannelMessages } from '../domain/channel-history.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const path = validate(ChannelPath, event.pathParameters, 'path');
  const query = validate(HistoryQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listChannelMessages(getDocumentStores(), { channel: decodeChannel(path.channel), userId: caller.userId, ...query }));
});

/**
 * API Gateway passes path parameters decoded; decoding once more is harmless
 * (no valid channel name contains `%`) and covers a stand-in that does not.
 */
function decodeChannel(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // refused as malformed by the channel check
  }
}
