/** PATCH /documents/{docId}/collaborators/{userId} {role} → 200 the collaborator. Owner only; `owner` transfers ownership. */
import { ChangeRoleBody } from '../../protocol/index.js';
import { CollaboratorPath } from '../../protocol/documents.js';
import { changeCollaboratorRole } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const { docId, userId } = validate(CollaboratorPath, event.pathParameters, 'path');
  const { role } = parseBody(event, ChangeRoleBody);
  return json(200, await changeCollaboratorRole(getDocumentStores(), caller.userId, docId, userId, role));
});
