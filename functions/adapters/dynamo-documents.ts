/**
 * DynamoDB implementation of the DocumentStore: document records in the
 * documents table, snapshot pointers (with the snapshot inline when small) in
 * the document snapshots table, collaborations read from the memberships
 * table's `byUser` index under the document group prefix (shared/member-groups.ts).
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { DocumentRecord, DocumentStore, SnapshotPointer } from '../domain/document-ports.js';
import type { Membership, MembershipPage } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';
import { DOCUMENT_GROUP_PREFIX, documentGroupId } from '../../shared/member-groups.js';
import { MEMBERSHIPS_BY_USER_INDEX } from '../../shared/tables.js';

const BATCH_GET_LIMIT = 100;

export interface DocumentTables {
  documents: string;
  documentSnapshots: string;
  memberships: string;
}

export class DynamoDocumentStore implements DocumentStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tables: DocumentTables,
  ) {}

  async createDocument(doc: DocumentRecord, owner: Membership): Promise<void> {
    // Document first: a membership never points at a document that does not exist.
    await this.db.send(
      new PutItemCommand({ TableName: this.tables.documents, Item: toAttributes({ ...doc }), ConditionExpression: 'attribute_not_exists(docId)' }),
    );
    await this.db.send(new PutItemCommand({ TableName: this.tables.memberships, Item: toAttributes({ ...owner }) }));
  }

  async getDocument(docId: string): Promise<DocumentRecord | null> {
    const { Item } = await this.db.send(new GetItemCommand({ TableName: this.tables.documents, Key: toAttributes({ docId }) }));
    return fromAttributes<DocumentRecord>(Item);
  }

  async getDocuments(docIds: string[]): Promise<DocumentRecord[]> {
    const docs: DocumentRecord[] = [];
    for (let i = 0; i < docIds.length; i += BATCH_GET_LIMIT) {
      let keys: AttributeMap[] | undefined = docIds.slice(i, i + BATCH_GET_LIMIT).map((docId) => toAttributes({ docId }));
      // Unprocessed keys come back under throttling; ask again until none are left.
      while (keys?.length) {
        const out: BatchGetItemCommandOutput = await this.db.send(
          new BatchGetItemCommand({ RequestItems: { [this.tables.documents]: { Keys: keys } } }),
        );
        docs.push(...(out.Responses?.[this.tables.documents] ?? []).map((item) => fromAttributes<DocumentRecord>(item)));
        keys = out.UnprocessedKeys?.[this.tables.documents]?.Keys;
      }
    }
    return docs;
  }

  async listCollaborations(userId: string, page: { limit: number; afterDocId?: string }): Promise<MembershipPage> {
    // One item beyond the page tells whether more follow; a Query page stops at 1 MB.
    const want = page.limit + 1;
    const items: Membership[] = [];
    let start: AttributeMap | undefined =
      page.afterDocId === undefined ? undefined : toAttributes({ userId, roomId: documentGroupId(page.afterDocId) });
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.memberships,
          IndexName: MEMBERSHIPS_BY_USER_INDEX,
          KeyConditionExpression: 'userId = :u AND begins_with(roomId, :doc)',
          ExpressionAttributeValues: toAttributes({ ':u': userId, ':doc': DOCUMENT_GROUP_PREFIX }),
          Limit: want - items.length,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []).map((item) => fromAttributes<Membership>(item)));
      start = out.LastEvaluatedKey;
    } while (start && items.length < want);
    return { memberships: items.slice(0, page.limit), more: items.length > page.limit };
  }

  async countCollaborations(userId: string, upTo: number, options: { addedByOthers?: boolean } = {}): Promise<number> {
    let count = 0;
    if (upTo <= 0) return 0;
    let start: AttributeMap | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tables.memberships,
          IndexName: MEMBERSHIPS_BY_USER_INDEX,
          KeyConditionExpression: 'userId = :u AND begins_with(roomId, :doc)',
          ...(options.addedByOthers && { FilterExpression: 'addedBy <> :u' }),
          ExpressionAttributeValues: toAttributes({ ':u': userId, ':doc': DOCUMENT_GROUP_PREFIX }),
          Select: 'COUNT',
          Limit: upTo - count,
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start && count < upTo);
    return Math.min(count, upTo);
  }

  async getSnapshot(docId: string): Promise<SnapshotPointer | null> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.tables.documentSnapshots, Key: toAttributes({ docId }), ConsistentRead: true }),
    );
    return fromAttributes<SnapshotPointer>(Item);
  }

  async putSnapshot(pointer: SnapshotPointer): Promise<boolean> {
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.tables.documentSnapshots,
          Item: toAttributes({ ...pointer }),
          // Never backwards: only over an older snapshot (or none).
          ConditionExpression: 'attribute_not_exists(docId) OR seq < :seq',
          ExpressionAttributeValues: toAttributes({ ':seq': pointer.seq }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}
