/**
 * The documents' stores, built from the environment once per container:
 * `DOCUMENTS_TABLE`, `DOCUMENT_SNAPSHOTS_TABLE` and the memberships table in
 * DynamoDB, snapshot objects in `SNAPSHOT_BUCKET` (S3; `S3_ENDPOINT` points
 * it at s3rver locally), with the chat stores (functions/lib/stores.ts) beside
 * them. Document limits: `MAX_DOCUMENTS_PER_USER`, `MAX_DOCUMENTS_ADDED_BY_OTHERS`.
 */
import { createDynamoClient } from '../../shared/dynamo-client.js';
import { tables as tableDefinitions } from '../../shared/tables.js';
import { DynamoDocumentStore } from '../adapters/dynamo-documents.js';
import { createS3Client, S3SnapshotObjects } from '../adapters/s3-snapshots.js';
import type { CompactionResult, StateProblem } from '../domain/document-compaction.js';
import type { DocumentStore, SnapshotObjects } from '../domain/document-ports.js';
import { MAX_DOCUMENTS_ADDED_BY_OTHERS, MAX_DOCUMENTS_PER_USER } from '../domain/documents.js';
import { requireEnv } from './env.js';
import { positiveInt } from './limits.js';
import { logger } from './logger.js';
import { getStores, type Stores } from './stores.js';

export interface DocumentStores extends Stores {
  documents: DocumentStore;
  snapshots: SnapshotObjects;
  maxDocumentsPerUser: number;
  maxDocumentsAddedByOthers: number;
  onCompaction: (docId: string, outcome: CompactionResult | { error: unknown }) => void;
  onStateProblem: (docId: string, problem: StateProblem) => void;
}

let stores: DocumentStores | undefined;


/** Compactions are logged with their sizes (the figures docs/documents.md talks about); a failed one as a warning. */
function logCompaction(docId: string, outcome: CompactionResult | { error: unknown }): void {
  if ('error' in outcome) logger.warn('document compaction failed; the log stays longer until the next one', { docId, error: outcome.error as Error });
  else if (outcome.compacted) logger.info('document compacted', { docId, seq: outcome.seq, ...outcome.before, snapshotBytesAfter: outcome.snapshotBytes, storage: outcome.storage });
}

/** Damage a read worked around (the document is still served): an error log, so it is noticed. */
function logStateProblem(docId: string, problem: StateProblem): void {
  if (problem.kind === 'snapshot_missing') logger.error('document snapshot object missing; state rebuilt from the log', { docId, seq: problem.seq, objectKey: problem.objectKey });
  else logger.error('stored document updates failed to apply and were left out', { docId, seqs: problem.seqs, count: problem.seqs.length, error: problem.error as Error });
}

/** The bucket's client, made on first use: only the routes that touch snapshots have the bucket (and its grants). */
function lazySnapshots(env: NodeJS.ProcessEnv): SnapshotObjects {
  let objects: SnapshotObjects | undefined;
  const get = () => (objects ??= new S3SnapshotObjects(createS3Client({ endpoint: env.S3_ENDPOINT || undefined }), requireEnv(env, 'SNAPSHOT_BUCKET')));
  return {
    put: (key, bytes) => get().put(key, bytes),
    get: (key) => get().get(key),
    list: (prefix) => get().list(prefix),
    delete: (keys) => get().delete(keys),
  };
}

export function getDocumentStores(env: NodeJS.ProcessEnv = process.env): DocumentStores {
  if (stores) return stores;
  const db = createDynamoClient({ endpoint: env.DYNAMODB_ENDPOINT });
  return (stores = {
    ...getStores(env),
    documents: new DynamoDocumentStore(db, {
      documents: requireEnv(env, tableDefinitions.documents.envVar),
      documentSnapshots: requireEnv(env, tableDefinitions.documentSnapshots.envVar),
      memberships: requireEnv(env, tableDefinitions.memberships.envVar),
    }),
    snapshots: lazySnapshots(env),
    maxDocumentsPerUser: positiveInt(env, 'MAX_DOCUMENTS_PER_USER', MAX_DOCUMENTS_PER_USER),
    maxDocumentsAddedByOthers: positiveInt(env, 'MAX_DOCUMENTS_ADDED_BY_OTHERS', MAX_DOCUMENTS_ADDED_BY_OTHERS),
    onCompaction: logCompaction,
    onStateProblem: logStateProblem,
  });
}
