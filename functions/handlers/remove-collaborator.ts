/**
 * DELETE /documents/{docId}/collaborators/{userId} → 204. Leave, or remove a
 * collaborator; stored first, then a revoke on `document:{docId}` ends their
 * live subscriptions on every relay.
 */
import { CollaboratorPath } from '../../protocol/documents.js';
import { removeCollaborator } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, validate } from '../lib/http.js';
import { logger } from '../lib/logger.js';
import { getRawPublisher } from '../lib/publisher.js';

const logRevokeFailure = (error: unknown, revoke: { channel: string; userId: string; attempts: number }) =>
  logger.error('revoke publish failed after the collaborator was removed; relays drop the subscription at their next access re-check', { error: error as Error, ...revoke });

export const handler = httpHandler(async (event, caller, deadline) => {
  const { docId, userId } = validate(CollaboratorPath, event.pathParameters, 'path');
  await removeCollaborator({ ...getDocumentStores(), publisher: getRawPublisher(), onRevokeFailed: logRevokeFailure, deadline }, caller.userId, docId, userId);
  return { statusCode: 204 };
});
