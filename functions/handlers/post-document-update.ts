/**
 * POST /documents/{docId}/updates {update, clientUpdateId} → 201 {docId, seq, …}
 * (200 for a retry of a stored clientUpdateId). The update must decode as a
 * Yjs update (400 otherwise, nothing written); it is appended to
 * `document:{docId}` and published. A compaction that the append makes due
 * runs before the answer (functions/domain/document-compaction.ts).
 */
import { PUBLISHED_HEADER } from '../../protocol/index.js';
import { DocumentPath, DocumentUpdateBody, MAX_DOCUMENT_UPDATE_BODY_BYTES } from '../../protocol/documents.js';
import { postUpdate } from '../domain/documents.js';
import { getDocumentStores } from '../lib/document-stores.js';
import { httpHandler, json, parseBody, validate } from '../lib/http.js';
import { logger } from '../lib/logger.js';
import { getRawPublisher } from '../lib/publisher.js';
import { enforceSendRate } from '../lib/send-rate.js';

const logPublishFailure = (error: unknown, entry: { channel: string; seq: number }) =>
  logger.error('publish failed after the document update was stored; subscribers will backfill', { error: error as Error, channel: entry.channel, seq: entry.seq });

export const handler = httpHandler(async (event, caller, deadline) => {
  // Per-user limit first: a flooding caller costs one Redis round trip, not a DynamoDB write.
  const limited = await enforceSendRate(caller.userId);
  if (limited) return limited;
  const { docId } = validate(DocumentPath, event.pathParameters, 'path');
  const body = parseBody(event, DocumentUpdateBody, MAX_DOCUMENT_UPDATE_BODY_BYTES);
  const { created, published, ...result } = await postUpdate(
    { ...getDocumentStores(), publisher: getRawPublisher(), onPublishError: logPublishFailure, deadline },
    { docId, userId: caller.userId, ...body },
  );
  const response = json(created ? 201 : 200, result);
  return { ...response, headers: { ...response.headers, [PUBLISHED_HEADER]: String(published) } };
});
