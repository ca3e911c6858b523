/**
 * One DynamoDB document client per process (per Lambda container), created on
 * first use. `DYNAMODB_ENDPOINT` points it at dynalite locally and in tests.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoOptions {
  endpoint?: string;
  region?: string;
}

export function createDocumentClient(options: DynamoOptions = {}): DynamoDBDocumentClient {
  const local = options.endpoint !== undefined;
  const client = new DynamoDBClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(local && {
      endpoint: options.endpoint,
      // dynalite ignores credentials, but the SDK insists on having some.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
