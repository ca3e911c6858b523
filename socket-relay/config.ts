/**
 * Relay configuration from the environment, validated up front: every problem
 * is reported at once, naming the variable to fix.
 */
import * as z from '../protocol/zod.js';
import { READABLE_ERRORS } from '../protocol/zod.js';
import { DEFAULT_MAX_TOKEN_LIFETIME_SEC, DEFAULT_TOKEN_ALGORITHMS } from '../shared/token-verifier.js';

/** Unset and empty (common in compose files) both mean "not configured". */
const blankAsUnset = (value: unknown) => (value === '' ? undefined : value);
const optional = <T extends z.ZodMiniType>(schema: T) => z.pipe(z.transform(blankAsUnset), z.optional(schema));
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), def);
const flag = z._default(z.pipe(z.enum(['true', 'false', '1', '0']), z.transform((v) => v === 'true' || v === '1')), false);

const Env = z.object({
  /** HTTP port for `/ws`, `/healthz` and `/metrics`. */
  PORT: int(8080, 0, 65535),
  HOST: z._default(z.string(), '0.0.0.0'),
  /** `redis://` / `rediss://` URL; without it the relay uses the in-process broker (single relay only). */
  REDIS_URL: optional(z.url()),
  /** Redis AUTH password (ElastiCache auth token), when not in the URL. */
  REDIS_PASSWORD: optional(z.string()),
  /** `true` for Redis Cluster / ElastiCache cluster mode: sharded pub/sub (SSUBSCRIBE). */
  REDIS_CLUSTER: flag,
  /** JWKS endpoint of the token issuer (Cognito, Auth0, the local stack). */
  JWT_JWKS_URL: z.url(),
  JWT_ISSUER: z.string().check(z.minLength(1)),
  /** Expected `aud` (or, for Cognito access tokens, `client_id`). */
  JWT_AUDIENCE: optional(z.string().check(z.minLength(1))),
  /** DynamoDB table of room memberships (read-only for the relay). */
  MEMBERSHIPS_TABLE: z.string().check(z.minLength(3)),
  /** Local DynamoDB endpoint (dynalite); unset in AWS. */
  DYNAMODB_ENDPOINT: optional(z.url()),
  /** Largest accepted client frame in bytes; larger frames close with 1009. */
  MAX_PAYLOAD_BYTES: int(64 * 1024, 256),
  /** How long a new socket may stay unauthenticated. */
  AUTH_TIMEOUT_MS: int(5000, 100),
  /** Channels one connection may hold. */
  MAX_SUBSCRIPTIONS: int(100, 1),
  /** Client frames per second (sustained) and burst, before close 4508. */
  FRAME_RATE: int(50, 1),
  FRAME_BURST: int(150, 1),
  /** Signals per second per user (across their connections on one relay), bursts of twice that; then `rate_limited`. */
  SIGNAL_RATE: int(20, 1),
  /** Largest serialized signal `data` in bytes; larger gets `payload_too_large`. */
  MAX_SIGNAL_BYTES: int(4096, 64),
  /** Subscribes per second per user (each costs a membership read), and the burst a reconnect needs. */
  SUBSCRIBE_RATE: int(50, 1),
  SUBSCRIBE_BURST: int(200, 1),
  /** Connections one user may hold on one relay; more close with 4029 (reconnect with backoff). */
  MAX_CONNECTIONS_PER_USER: int(100, 1),
  /** Sockets (authenticated or not) one client IP may hold on one relay; more get HTTP 429 at the upgrade. */
  MAX_CONNECTIONS_PER_IP: int(1000, 1),
  /** Of those, sockets not yet authenticated (each may make ws buffer up to a whole frame). */
  MAX_PENDING_PER_IP: int(64, 1),
  /**
   * Proxies in front of the relay that append to X-Forwarded-For (1: an ALB; 2: CloudFront then
   * an ALB). 0 trusts no header and uses the TCP peer address.
   */
  TRUST_PROXY_HOPS: int(0, 0, 10),
  /** A TCP connection that has not completed its HTTP request (the upgrade) by then is closed. */
  HANDSHAKE_TIMEOUT_MS: int(10_000, 100),
  /** JWS algorithms a token may be signed with (comma-separated). */
  JWT_ALGORITHMS: z._default(
    z.pipe(
      z.string(),
      z.transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean)),
    ).check(z.refine((algs: string[]) => algs.length > 0 && algs.every((a) => /^(RS|PS|ES)(256|384|512)$|^EdDSA$/.test(a)), 'must list asymmetric JWS algorithms, e.g. RS256,ES256')),
    DEFAULT_TOKEN_ALGORITHMS,
  ),
  /** Longest token lifetime accepted (`exp` - `iat`, and `exp` - now), in seconds. */
  JWT_MAX_LIFETIME_SEC: int(DEFAULT_MAX_TOKEN_LIFETIME_SEC, 60),
  /** Bytes queued for one socket before it is cut off with 4009. */
  MAX_BUFFERED_BYTES: int(1024 * 1024, 1024),
  /** Heartbeat interval: a socket that has not answered the previous ping is terminated. */
  HEARTBEAT_MS: int(30_000, 100),
  /**
   * How often every subscription's access is checked again (batched reads): a member removed
   * without the revoke reaching this relay loses live delivery within this plus two passes.
   */
  ACCESS_RECHECK_MS: int(25_000, 1000),
  /**
   * Present users above which a presence channel gets no join/leave events (snapshots hold
   * this many members, picked at random, plus `total`). Must be the same on every relay of a fleet.
   */
  PRESENCE_EVENT_LIMIT: int(500, 1, 10_000),
  /** On SIGTERM: stop accepting, tell clients 1012, wait at most this long. */
  DRAIN_TIMEOUT_MS: int(10_000, 0),
  /** When set, one CloudWatch embedded-metric line a minute (connections, Redis outages, Redis down) for scaling and alarms. */
  RELAY_METRICS_NAMESPACE: optional(z.string().check(z.minLength(1))),
  RELAY_METRICS_SERVICE: z._default(z.string(), 'townsquare-relay'),
  LOG_LEVEL: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
});

export type RelayConfig = z.output<typeof Env>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid relay configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const parsed = Env.safeParse(env, READABLE_ERRORS);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Cross-field checks run on the raw values too, so every problem is reported in one go.
  const rate = Number(env.FRAME_RATE ?? 50);
  const burst = Number(env.FRAME_BURST ?? 150);
  if (Number.isFinite(rate) && Number.isFinite(burst) && burst < rate) problems.push('FRAME_BURST must be >= FRAME_RATE');
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}
