/** POST /documents {title} → 201 document; the caller becomes its owner. */
import { CreateDocumentBody } from '../../protocol/documents.js';
import { createDocument } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, parseBody } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const { title } = parseBody(event, CreateDocumentBody);
  return json(201, await createDocument(getDocumentStores(), caller.userId, title));
});
