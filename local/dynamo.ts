/**
 * dynalite as DynamoDB, in-process, with the project's tables created from
 * the same key schemas the CDK app uses.
 *
 * It runs on a worker thread: the local stack serves the HTTP API and
 * dynalite from one process, and on one thread each request's database work
 * (3 calls per message sent) queued behind the API's own, which tripled the
 * API's tail latency under load (docs/benchmarks.md, HTTP scenario).
 */
import { CreateTableCommand, DynamoDBClient, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { TABLE_NAMES, tables as tableDefinitions, type TableNames, type TableSchema } from '../shared/tables.js';

export interface LocalDynamo {
  endpoint: string;
  tables: TableNames;
  /** `{ ROOMS_TABLE: ..., ... , DYNAMODB_ENDPOINT }` for functions and relays. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startDynamo(options: { port?: number; prefix?: string } = {}): Promise<LocalDynamo> {
  const thread = new Worker(new URL('./dynalite-thread.mjs', import.meta.url), { workerData: { port: options.port } });
  const [{ port }] = (await Promise.race([once(thread, 'message'), once(thread, 'error').then(([err]) => Promise.reject(err))])) as [{ port: number }];
  let exited = false;
  thread.once('exit', () => (exited = true));
  const endpoint = `http://127.0.0.1:${port}`;
  const prefix = options.prefix ?? 'townsquare';
  const tables = Object.fromEntries(TABLE_NAMES.map((name) => [name, `${prefix}-${name}`])) as TableNames;

  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    for (const name of TABLE_NAMES) {
      await client.send(new CreateTableCommand(createTableInput(tables[name], tableDefinitions[name])));
    }
  } catch (err) {
    await thread.terminate(); // it would keep the process alive
    throw err;
  } finally {
    client.destroy();
  }

  const env: Record<string, string> = { DYNAMODB_ENDPOINT: endpoint };
  for (const name of TABLE_NAMES) env[tableDefinitions[name].envVar] = tables[name];
  return {
    endpoint,
    tables,
    env,
    async stop() {
      if (exited) return;
      thread.postMessage('stop');
      // 'stopped' once the server has closed; 'exit' if the thread was already going.
      await Promise.race([once(thread, 'message'), once(thread, 'exit')]);
      await thread.terminate();
    },
  };
}

function createTableInput(tableName: string, schema: TableSchema): CreateTableCommandInput {
  const attributes = new Map<string, 'S' | 'N'>();
  const keys = (pk: { name: string; type: 'S' | 'N' }, sk?: { name: string; type: 'S' | 'N' }) => {
    attributes.set(pk.name, pk.type);
    if (sk) attributes.set(sk.name, sk.type);
    return [
      { AttributeName: pk.name, KeyType: 'HASH' as const },
      ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
    ];
  };
  const keySchema = keys(schema.partitionKey, schema.sortKey);
  const indexes = schema.globalIndexes?.map((index) => ({
    IndexName: index.indexName,
    KeySchema: keys(index.partitionKey, index.sortKey),
    Projection: { ProjectionType: 'ALL' as const },
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keySchema,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    ...(indexes && { GlobalSecondaryIndexes: indexes }),
  };
}
