/**
 * Snapshot objects in S3 (functions/domain/document-compaction.ts): one object
 * per (document, seq), written once. The bucket is private and encrypted
 * (infra/lib/document-snapshots.ts); locally, s3rver (local/s3.ts).
 */
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import type { SnapshotObjects } from '../domain/document-ports.js';

export interface S3Options {
  bucket: string;
  /** A local endpoint (s3rver): path-style requests, fixed credentials. */
  endpoint?: string;
  region?: string;
}

/** DeleteObjects takes at most 1,000 keys. */
const DELETE_LIMIT = 1000;

export function createS3Client(options: Omit<S3Options, 'bucket'>): S3Client {
  const local = options.endpoint !== undefined;
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    maxAttempts: 2,
    requestHandler: { requestTimeout: local ? 10_000 : 2_000, connectionTimeout: 1_000, throwOnRequestTimeout: true },
    ...(local && { endpoint: options.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }),
  });
}

export class S3SnapshotObjects implements SnapshotObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: 'application/octet-stream' }));
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body!.transformToByteArray();
    } catch (err) {
      if (err instanceof Error && (err.name === 'NoSuchKey' || err.name === 'NotFound')) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out: ListObjectsV2CommandOutput = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(out.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_LIMIT) {
      const out = await this.s3.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.slice(i, i + DELETE_LIMIT).map((Key) => ({ Key })), Quiet: true } }),
      );
      if (out.Errors?.length) throw new Error(`S3 refused to delete ${out.Errors.length} snapshot objects: ${out.Errors[0]?.Code} ${out.Errors[0]?.Message}`);
    }
  }
}
