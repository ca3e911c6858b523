/**
 * The whole system on one machine: dynalite as DynamoDB, s3rver as S3 (document
 * snapshots), Redis (given, started,
 * or none), the API Gateway stand-in invoking the real handlers, and relays:
 * separate processes running the relay bundle when there is Redis, one
 * in-process relay sharing an in-memory broker when there is not; and, when
 * asked, the demo web app's server (local/demo-server.ts).
 */
import { spawnSync } from 'node:child_process';
import { processMemoryBroker } from '../broker/memory.js';
import { closeConnections } from '../functions/host.js';
import { startEmbeddedRelay } from '../socket-relay/embed.js';
import { startApiGateway } from './api-gateway.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, loadDevIssuer, type DevIssuer } from './dev-keys.js';
import { startDynamo } from './dynamo.js';
import { startS3 } from './s3.js';
import { redisServerAvailable, startRedisServer, type RedisProcess } from './redis-server.js';
import { RELAY_BUNDLE, startRelayProcess, type RelayProcess } from './relay-process.js';

export interface StackOptions {
  /** Use this Redis; otherwise one is started when `redis-server` is installed. */
  redisUrl?: string;
  /** Force the in-process broker even when Redis is available. */
  memory?: boolean;
  relays?: number;
  apiPort?: number;
  relayPorts?: number[];
  /** Rebuild the relay bundle before starting. @default true */
  buildRelay?: boolean;
  relayEnv?: Record<string, string>;
  keyFile?: string;
  /** Serve the demo web app (with its dev-only token endpoint) on 127.0.0.1; `port` 0 picks a free one. @default false */
  demo?: boolean | { port?: number };
  log?: (line: string) => void;
}

export interface LocalStack {
  apiUrl: string;
  relayUrls: string[];
  /** `redis://…`, or null in the in-process broker mode. */
  redisUrl: string | null;
  redis: RedisProcess | null;
  relays: RelayProcess[];
  dynamoEndpoint: string;
  tables: Record<string, string>;
  /** s3rver's endpoint and the snapshot bucket in it. */
  s3: { endpoint: string; bucket: string };
  /** The environment its relays get (with REDIS_URL in Redis mode): start more relays with it. */
  relayEnv: Record<string, string>;
  issuer: DevIssuer;
  /** The demo web app's URL, or null when the stack runs without it. */
  demoUrl: string | null;
  mode: 'redis' | 'memory';
  stop(): Promise<void>;
}

export function buildRelayBundle(): void {
  const result = spawnSync(process.execPath, ['socket-relay/build.mjs', RELAY_BUNDLE], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('building the relay bundle failed');
}

export async function startLocalStack(options: StackOptions = {}): Promise<LocalStack> {
  // Lambda runs Node.js 22; the SDK's notice about Node 20 is noise locally.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const log = options.log ?? (() => {});
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const issuer = await loadDevIssuer(options.keyFile);
    const dynamo = await startDynamo();
    stops.push(dynamo.stop);
    const s3 = await startS3();
    stops.push(s3.stop);

    let redis: RedisProcess | null = null;
    let redisUrl: string | null = options.memory ? null : (options.redisUrl ?? null);
    if (!options.memory && !redisUrl && redisServerAvailable()) {
      redis = await startRedisServer();
      stops.push(redis.stop);
      redisUrl = redis.url;
    }
    const mode = redisUrl ? 'redis' : 'memory';

    // The handlers read their configuration from the environment, as in Lambda.
    Object.assign(process.env, dynamo.env, s3.env);
    if (redisUrl) {
      process.env.REDIS_URL = redisUrl;
      delete process.env.TOWNSQUARE_BROKER;
    } else {
      process.env.TOWNSQUARE_BROKER = 'memory';
    }
    const api = await startApiGateway({ jwks: issuer.jwks, issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, port: options.apiPort });
    stops.push(api.stop);
    // The handlers' connections, closed before Redis (stops run in reverse) so that stopping it is no outage.
    stops.push(closeConnections);

    const relayEnv: Record<string, string> = {
      JWT_JWKS_URL: api.jwksUrl,
      JWT_ISSUER: LOCAL_ISSUER,
      JWT_AUDIENCE: LOCAL_AUDIENCE,
      MEMBERSHIPS_TABLE: dynamo.tables.memberships,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      ...options.relayEnv,
    };
    const relays: RelayProcess[] = [];
    const relayUrls: string[] = [];
    if (redisUrl) {
      if (options.buildRelay !== false) buildRelayBundle();
      const count = options.relays ?? 2;
      for (let i = 0; i < count; i++) {
        const relay = await startRelayProcess({ ...relayEnv, REDIS_URL: redisUrl }, { port: options.relayPorts?.[i], log });
        stops.push(() => relay.stop());
        relays.push(relay);
        relayUrls.push(relay.wsUrl);
      }
    } else {
      const inProcess = await startEmbeddedRelay({
        env: { ...relayEnv, PORT: String(options.relayPorts?.[0] ?? 0), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
        broker: processMemoryBroker().peer(),
      });
      stops.push(() => inProcess.stop());
      relayUrls.push(`ws://127.0.0.1:${inProcess.port}/ws`);
    }

    let demoUrl: string | null = null;
    if (options.demo) {
      // Loaded only when asked for: it brings esbuild in.
      const { startDemoServer } = await import('./demo-server.js');
      const demo = await startDemoServer({ apiUrl: api.url, relayUrls, issuer, port: options.demo === true ? 0 : options.demo.port });
      stops.push(demo.stop);
      demoUrl = demo.url;
    }

    return {
      apiUrl: api.url,
      relayUrls,
      redisUrl,
      redis,
      relays,
      dynamoEndpoint: dynamo.endpoint,
      tables: dynamo.tables,
      s3: { endpoint: s3.endpoint, bucket: s3.bucket },
      relayEnv: redisUrl ? { ...relayEnv, REDIS_URL: redisUrl } : relayEnv,
      issuer,
      demoUrl,
      mode,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
