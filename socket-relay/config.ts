/**
 * Relay configuration from the environment, validated up front: every problem
 * is reported at once, naming the variable to fix.
 */
import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const Env = z.object({
  /** HTTP port for `/ws`, `/healthz` and `/metrics`. */
  PORT: int(8080).pipe(z.number().max(65535)),
  HOST: z.string().default('0.0.0.0'),
  /** `redis://` / `rediss://` URL; without it the relay uses the in-process broker (single relay only). */
  REDIS_URL: z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional()),
  /** JWKS endpoint of the token issuer (Cognito, Auth0, the local stack). */
  JWT_JWKS_URL: z.string().url(),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** DynamoDB table of room memberships (read-only for the relay). */
  MEMBERSHIPS_TABLE: z.string().min(3),
  /** Local DynamoDB endpoint (dynalite); unset in AWS. */
  DYNAMODB_ENDPOINT: z.string().url().optional(),
  /** Largest accepted client frame in bytes; larger frames close with 1009. */
  MAX_PAYLOAD_BYTES: int(64 * 1024, 256),
  /** How long a new socket may stay unauthenticated. */
  AUTH_TIMEOUT_MS: int(5000, 100),
  /** Channels one connection may hold. */
  MAX_SUBSCRIPTIONS: int(100, 1),
  /** Client frames per second (sustained) and burst, before close 4008. */
  FRAME_RATE: int(50, 1),
  FRAME_BURST: int(100, 1),
  /** Signals per second per connection before they are refused with `rate_limited`. */
  SIGNAL_RATE: int(20, 1),
  /** Bytes queued for one socket before it is cut off with 4009. */
  MAX_BUFFERED_BYTES: int(1024 * 1024, 1024),
  /** Heartbeat interval: a socket that misses two pings in a row is terminated. */
  HEARTBEAT_MS: int(30_000, 100),
  /** On SIGTERM: stop accepting, tell clients 1012, wait at most this long. */
  DRAIN_TIMEOUT_MS: int(10_000, 0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RelayConfig = z.infer<typeof Env>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid relay configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const parsed = Env.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Cross-field checks run on the raw values too, so every problem is reported in one go.
  const rate = Number(env.FRAME_RATE ?? 50);
  const burst = Number(env.FRAME_BURST ?? 100);
  if (Number.isFinite(rate) && Number.isFinite(burst) && burst < rate) problems.push('FRAME_BURST must be >= FRAME_RATE');
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}
