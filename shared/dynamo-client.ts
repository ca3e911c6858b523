/**
 * The DynamoDB client of the functions (one per Lambda container, see
 * functions/lib/stores.ts) and of the relay (its access reads). An `endpoint`
 * (`DYNAMODB_ENDPOINT`) points it at dynalite locally and in tests.
 *
 * The plain client rather than the document client: with `cacheMiddleware`
 * the SDK resolves each command's middleware stack once instead of on every
 * call. Against dynalite in another process, the client's CPU per call fell
 * from a median of about 440 µs (GetItem) and 600 µs (conditional PutItem)
 * to about 340 µs for both. The document client refuses that option, so
 * items are converted by `dynamo-items.ts` instead.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface DynamoOptions {
  endpoint?: string;
  region?: string;
  /**
   * How long one attempt may wait for its response (ms). Well inside the
   * functions' 10 s timeout: with `maxAttempts` the worst single call is about
   * 2 × (1 s + 1.5 s) plus a short backoff, so a stuck call fails with an
   * error the handler answers instead of the function timing out. Against a
   * local endpoint (dynalite sharing a busy machine) the default is 10 s.
   * @default 1500 (10000 with `endpoint`)
   */
  requestTimeoutMs?: number;
  /** How long a TCP/TLS connect may take (ms). @default 1000 */
  connectionTimeoutMs?: number;
  /** Attempts per call, the first included (the SDK's standard retry mode). @default 2 */
  maxAttempts?: number;
}

export const DYNAMO_REQUEST_TIMEOUT_MS = 1500;
export const LOCAL_DYNAMO_REQUEST_TIMEOUT_MS = 10_000;
export const DYNAMO_CONNECTION_TIMEOUT_MS = 1000;
export const DYNAMO_MAX_ATTEMPTS = 2;

export function createDynamoClient(options: DynamoOptions = {}): DynamoDBClient {
  const local = options.endpoint !== undefined;
  return new DynamoDBClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    // Safe because nothing adds middleware to this client after its first call (a tracer
    // added later would be silently skipped), and no call passes per-call options (which
    // would quietly bypass the cache).
    cacheMiddleware: true,
    maxAttempts: options.maxAttempts ?? DYNAMO_MAX_ATTEMPTS,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? (local ? LOCAL_DYNAMO_REQUEST_TIMEOUT_MS : DYNAMO_REQUEST_TIMEOUT_MS),
      // Without this the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
      connectionTimeout: options.connectionTimeoutMs ?? DYNAMO_CONNECTION_TIMEOUT_MS,
    },
    ...(local && {
      endpoint: options.endpoint,
      // dynalite ignores credentials, but the SDK insists on having some.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  });
}
