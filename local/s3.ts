/**
 * s3rver as S3, in-process on a free port, with the document snapshot bucket
 * created: a real S3-speaking HTTP server (path-style), its objects in a
 * temporary directory removed at stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** `{ SNAPSHOT_BUCKET, S3_ENDPOINT }` for the functions. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(options: { port?: number; bucket?: string } = {}): Promise<LocalS3> {
  const bucket = options.bucket ?? 'townsquare-snapshots';
  const directory = mkdtempSync(join(tmpdir(), 'townsquare-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: options.port ?? 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = (await server.run()) as unknown as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: { SNAPSHOT_BUCKET: bucket, S3_ENDPOINT: endpoint },
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
