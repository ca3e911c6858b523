/**
 * GET /documents/{docId}?stateVector= → {docId, title, update, seq, stateVector}:
 * the state as one Yjs update (base64) and the seq it reflects; with the
 * client's state vector, only what that client lacks. Collaborators only.
 */
import { DocumentPath, DocumentStateQuery } from '../../protocol/documents.js';
import { getDocumentState } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const { docId } = validate(DocumentPath, event.pathParameters, 'path');
  const query = validate(DocumentStateQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await getDocumentState(getDocumentStores(), { docId, userId: caller.userId, ...query }));
});
