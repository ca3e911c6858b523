/**
 * POST /documents/{docId}/collaborators {userId, role?} → 201 added, 200
 * already a collaborator (unchanged). The room rules: owner and admins add;
 * only the owner adds an admin.
 */
import { AddMemberBody } from '../../protocol/index.js';
import { DocumentPath } from '../../protocol/documents.js';
import { addCollaborator } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const { docId } = validate(DocumentPath, event.pathParameters, 'path');
  const body = parseBody(event, AddMemberBody);
  const { collaborator, created } = await addCollaborator(getDocumentStores(), caller.userId, docId, body.userId, body.role);
  return json(created ? 201 : 200, collaborator);
});
