/** GET /documents?limit=&cursor= → {documents (by document id), nextCursor}: one page of the caller's documents. */
import { DocumentsQuery } from '../../protocol/documents.js';
import { listDocuments } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const query = validate(DocumentsQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listDocuments(getDocumentStores(), caller.userId, query));
});
