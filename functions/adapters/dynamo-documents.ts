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
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { DocumentRecord, DocumentStore, SnapshotPointer } from '../domain/document-ports.js';
import type { Membership, MembershipPage } from '../domain/ports.js';
import { fromAttributes, toAttributes, type AttributeMap } from '../../shared/dynamo-items.js';
import { DOCUMENT_GROUP_PREFIX, documentGroupId } from '../../shared/member-groups.js';
import { countUserGroups, listUserGroups, type GroupRange } from './dynamo-user-groups.js';

const BATCH_GET_LIMIT = 100;
/** Document collaborations on the byUser index: group ids under DOCUMENT_GROUP_PREFIX. */
const DOCUMENTS: GroupRange = { condition: 'begins_with(roomId, :doc)', values: { ':doc': DOCUMENT_GROUP_PREFIX } };

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

  listCollaborations(userId: string, page: { limit: number; afterDocId?: string }): Promise<MembershipPage> {
    const afterGroupId = page.afterDocId === undefined ? undefined : documentGroupId(page.afterDocId);
    return listUserGroups(this.db, this.tables.memberships, userId, DOCUMENTS, { limit: page.limit, afterGroupId });
  }

  countCollaborations(userId: string, upTo: number, options: { addedByOthers?: boolean } = {}): Promise<number> {
    return countUserGroups(this.db, this.tables.memberships, userId, DOCUMENTS, upTo, options);
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
