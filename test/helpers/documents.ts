/** The document stores over dynalite and s3rver, and Yjs helpers for document tests. */
import * as Y from 'yjs';
import { DynamoDocumentStore } from '../../functions/adapters/dynamo-documents.js';
import { createS3Client, S3SnapshotObjects } from '../../functions/adapters/s3-snapshots.js';
import { startS3, type LocalS3 } from '../../local/s3.js';
import { startStores, type Stores } from './stores.js';

export interface DocumentStores extends Stores {
  s3: LocalS3;
  documents: DynamoDocumentStore;
  snapshots: S3SnapshotObjects;
}

export async function startDocumentStores(prefix: string): Promise<DocumentStores> {
  const stores = await startStores(prefix);
  const s3 = await startS3();
  const { tables } = stores.dynamo;
  const client = createS3Client({ endpoint: s3.endpoint });
  return {
    ...stores,
    s3,
    documents: new DynamoDocumentStore(stores.db, { documents: tables.documents, documentSnapshots: tables.documentSnapshots, memberships: tables.memberships }),
    snapshots: new S3SnapshotObjects(client, s3.bucket),
    async stop() {
      client.destroy();
      await stores.stop();
      await s3.stop();
    },
  };
}

/** A seeded PRNG (mulberry32): the same edits on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One random edit of `text` in `doc`: an insert of a unique marker (returned,
 * so that the test can look for it at the end) or, one time in three, a delete
 * of up to 3 characters that never cuts into a marker another edit inserted.
 */
export function randomEdit(doc: Y.Doc, random: () => number, marker: string): string | null {
  const text = doc.getText('text');
  const length = text.length;
  if (length > 0 && random() < 1 / 3) {
    // Delete only filler characters (`.`), so that every inserted marker survives.
    const content = text.toString();
    const dots = [...content.matchAll(/\.+/g)];
    if (dots.length > 0) {
      const run = dots[Math.floor(random() * dots.length)]!;
      text.delete(run.index!, Math.min(run[0].length, 1 + Math.floor(random() * 3)));
      return null;
    }
  }
  // Insert between whole markers only (never inside one), so every marker stays readable.
  const content = text.toString();
  const boundaries = [0];
  for (let i = 1; i <= length; i++) if (content[i - 1] === '.' || content[i] === '[') boundaries.push(i);
  text.insert(boundaries[Math.floor(random() * boundaries.length)]!, `[${marker}]...`);
  return marker;
}

export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
export const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
