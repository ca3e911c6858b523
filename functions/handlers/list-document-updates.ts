/**
 * GET /documents/{docId}/updates?afterSeq=&limit= → the history page of
 * `document:{docId}`: an alias of GET /channels/document%3A{docId}/messages
 * (same shape, same access rule: collaborators).
 */
import { documentChannel, HistoryQuery } from '../../protocol/index.js';
import { DocumentPath } from '../../protocol/documents.js';
import { listChannelMessages } from '../domain/channel-history.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const { docId } = validate(DocumentPath, event.pathParameters, 'path');
  const query = validate(HistoryQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listChannelMessages(getDocumentStores(), { channel: documentChannel(docId), userId: caller.userId, ...query }));
});
