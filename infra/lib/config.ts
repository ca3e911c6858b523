/**
 * Deployment settings, read from CDK context (`-c key=value`) and validated up
 * front: every problem is reported at once, naming the context key to fix.
 * Context values arrive as strings from the CLI and as any JSON type from
 * cdk.json or tests, so each reader accepts both.
 */

export type RedisMode = 'elasticache' | 'upstash';

/** JWT settings when the deployer brings their own identity provider. */
export interface ExternalJwt {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The scope your provider puts in backends' tokens for POST /notifications (context `jwtNotifyScope`). @default 'notify' */
  notifyScope?: string;
  /**
   * The audience of backends' tokens (context `jwtNotifyAudience`), e.g. a machine-to-machine API
   * of its own: POST /notifications then admits only it, and no end-user token however it is scoped.
   * @default `audience` (end users' tokens reach the scope check: see docs/deploy.md)
   */
  notifyAudience?: string;
}

export interface TownsquareConfig {
  /** @default 'elasticache' */
  redis: RedisMode;
  /** Undefined: the stack creates a Cognito user pool and app client. */
  jwt?: ExternalJwt;
  /**
   * ACM certificate for the relay load balancer (wss:// on your domain). Without
   * it, CloudFront fronts the load balancer (wss://…cloudfront.net), unless `dev`.
   */
  certificateArn?: string;
  /** DNS name (covered by the certificate) that you point at the load balancer; used in the WebSocketUrl output. */
  relayDomain?: string;
  /** Complete ARN of the secret holding `{restUrl, restToken, redisUrl}`; required with `redis=upstash`. */
  upstashSecretArn?: string;
  /**
   * Development stack: data is destroyed with the stack instead of retained,
   * and without a certificate the relays are plain ws:// (no CloudFront). @default false
   */
  dev: boolean;
  /** How clients reach the relays; derived from `certificateArn` and `dev`. */
  relayEntry: 'certificate' | 'cloudfront' | 'plain';
  /** WAF web ACL (CLOUDFRONT scope, us-east-1) for the relays' distribution; made in-stack when the region is us-east-1. */
  wafWebAclArn?: string;
  /** WebSocket upgrades per client IP per 5 minutes before WAF blocks it. @default 1000 */
  wafUpgradeLimit: number;
  /** Origins allowed to call the HTTP API from a browser. @default ['*'] */
  corsOrigins: string[];
  /** ElastiCache node type (elasticache mode). @default 'cache.t4g.micro' */
  redisNodeType: string;
  /** ElastiCache weekly maintenance window, UTC (elasticache mode). @default 'sun:04:00-sun:05:00' */
  redisMaintenanceWindow: string;
  /** Email address subscribed to the alarm topic. */
  alarmEmail?: string;
  /** HTTP API stage throttle, requests/s and burst (see DEFAULT_API_THROTTLE for the sizing). @default 1000 and 1000 */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** Relay task count bounds for autoscaling. @default 2 and 10 */
  relayMinTasks: number;
  relayMaxTasks: number;
  /** Days a stored message is kept (TTL on the messages table); undefined: forever. @default undefined */
  messageRetentionDays?: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid Townsquare deployment context:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Anything with `tryGetContext` (a construct's node) or a plain record. */
export type ContextSource = { tryGetContext(key: string): unknown } | Record<string, unknown>;

const CERT_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const WAF_ARN = /^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/[A-Za-z0-9_-]+\/[a-f0-9-]+$/;
const MAINTENANCE_WINDOW = /^(mon|tue|wed|thu|fri|sat|sun):((?:[01]\d|2[0-3]):[0-5]\d)-(mon|tue|wed|thu|fri|sat|sun):((?:[01]\d|2[0-3]):[0-5]\d)$/;
const COMPLETE_SECRET_SUFFIX = /-[A-Za-z0-9]{6}$/;
const NODE_TYPE = /^cache\.[a-z0-9]+\.[a-z0-9]+$/;

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const MINUTES_PER_WEEK = 7 * 24 * 60;
/** ElastiCache's bounds on a weekly maintenance window (it refuses others at deploy time). */
export const MAINTENANCE_WINDOW_MIN_MINUTES = 60;
export const MAINTENANCE_WINDOW_MAX_MINUTES = 24 * 60;

/**
 * Why ElastiCache would refuse this weekly maintenance window (`ddd:hh:mm-ddd:hh:mm`,
 * UTC), or undefined when it is fine: the format, and a length from 60 minutes to
 * 24 hours. A window may wrap the week (`sun:23:30-mon:00:30`).
 */
export function maintenanceWindowProblem(window: string): string | undefined {
  const match = MAINTENANCE_WINDOW.exec(window);
  if (!match) return `expected ddd:hh:mm-ddd:hh:mm in UTC (e.g. sun:04:00-sun:05:00), got ${window}`;
  const [, startDay, startTime, endDay, endTime] = match;
  const at = (day: string, time: string) => {
    const [h, m] = time.split(':').map(Number) as [number, number];
    return WEEKDAYS.indexOf(day as (typeof WEEKDAYS)[number]) * 24 * 60 + h * 60 + m;
  };
  const minutes = (at(endDay!, endTime!) - at(startDay!, startTime!) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  if (minutes < MAINTENANCE_WINDOW_MIN_MINUTES || minutes > MAINTENANCE_WINDOW_MAX_MINUTES) {
    return `${window} lasts ${minutes} minutes; ElastiCache needs 60 minutes to 24 hours (e.g. sun:04:00-sun:05:00)`;
  }
  return undefined;
}

export function readConfig(source: ContextSource): TownsquareConfig {
  const get = (key: string): unknown =>
    typeof source.tryGetContext === 'function'
      ? (source as { tryGetContext(k: string): unknown }).tryGetContext(key)
      : (source as Record<string, unknown>)[key];
  const problems: string[] = [];
  const str = (key: string): string | undefined => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push(`${key}: expected a string, got ${typeof v}`);
      return undefined;
    }
    return v.trim();
  };
  const bool = (key: string): boolean => {
    const v = get(key);
    if (v === undefined || v === null || v === '' || v === false || v === 'false') return false;
    if (v === true || v === 'true') return true;
    problems.push(`${key}: expected true or false, got ${JSON.stringify(v)}`);
    return false;
  };
  const int = (key: string, def: number, min: number, max: number): number => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return def;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return def;
    }
    return n;
  };
  const httpsUrl = (key: string, value: string | undefined): void => {
    if (value === undefined) return;
    try {
      if (new URL(value).protocol !== 'https:') problems.push(`${key}: must be an https:// URL, got ${value}`);
    } catch {
      problems.push(`${key}: not a URL: ${value}`);
    }
  };

  const redisRaw = str('redis') ?? 'elasticache';
  if (redisRaw !== 'elasticache' && redisRaw !== 'upstash') {
    problems.push(`redis: must be "elasticache" or "upstash", got "${redisRaw}"`);
  }
  const redis: RedisMode = redisRaw === 'upstash' ? 'upstash' : 'elasticache';

  const issuer = str('jwtIssuer');
  const audience = str('jwtAudience');
  const jwksUrlRaw = str('jwksUrl');
  httpsUrl('jwtIssuer', issuer);
  httpsUrl('jwksUrl', jwksUrlRaw);
  if (issuer && !audience) problems.push('jwtAudience: required when jwtIssuer is given (the API rejects tokens for other audiences)');
  if (audience && !issuer) problems.push('jwtIssuer: required when jwtAudience is given');
  if (jwksUrlRaw && !issuer) problems.push('jwksUrl: only meaningful with jwtIssuer (the Cognito default derives its own)');
  // Auth0, Cognito and most OIDC providers publish keys here; others (Okta) must pass jwksUrl.
  const notifyScope = str('jwtNotifyScope');
  if (notifyScope && !issuer) problems.push('jwtNotifyScope: only meaningful with jwtIssuer (the Cognito default creates townsquare/notify)');
  if (notifyScope && !/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(notifyScope)) problems.push(`jwtNotifyScope: not a single OAuth scope: ${notifyScope}`);
  const notifyAudience = str('jwtNotifyAudience');
  if (notifyAudience && !issuer) problems.push('jwtNotifyAudience: only meaningful with jwtIssuer (the Cognito default admits its own machine client)');
  if (notifyAudience && notifyAudience === audience) {
    problems.push('jwtNotifyAudience: must differ from jwtAudience (it keeps end-user tokens of jwtAudience off POST /notifications); omit it to share one audience');
  }
  const jwt =
    issuer && audience
      ? {
          issuer,
          audience,
          jwksUrl: jwksUrlRaw ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
          ...(notifyScope && { notifyScope }),
          ...(notifyAudience && { notifyAudience }),
        }
      : undefined;

  const certificateArn = str('certificateArn');
  if (certificateArn && !CERT_ARN.test(certificateArn)) {
    problems.push(`certificateArn: not an ACM certificate ARN: ${certificateArn}`);
  }

  const relayDomain = str('relayDomain');
  if (relayDomain && !certificateArn) problems.push('relayDomain: only meaningful with certificateArn (it names the TLS host)');
  if (relayDomain && !/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/i.test(relayDomain)) {
    problems.push(`relayDomain: not a DNS name: ${relayDomain}`);
  }

  const upstashSecretArn = str('upstashSecretArn');
  if (redisRaw === 'upstash' && !upstashSecretArn) {
    problems.push('upstashSecretArn: required with redis=upstash (a Secrets Manager secret holding {restUrl, restToken, redisUrl})');
  }
  if (redisRaw === 'elasticache' && upstashSecretArn) {
    problems.push('upstashSecretArn: given, but redis is "elasticache"; add -c redis=upstash or drop it');
  }
  // ECS resolves a JSON key (`…:redisUrl::`) only from the complete ARN (with the 6-character
  // suffix Secrets Manager appends); a name or partial ARN fails when the task starts.
  if (upstashSecretArn && !(SECRET_ARN.test(upstashSecretArn) && COMPLETE_SECRET_SUFFIX.test(upstashSecretArn))) {
    problems.push(
      `upstashSecretArn: must be the secret's complete ARN (ending in "-" and 6 characters), got ${upstashSecretArn}; ` +
        `ECS cannot read a JSON key of a secret by name or partial ARN. Get it with: ` +
        `aws secretsmanager describe-secret --secret-id ${SECRET_NAME.test(upstashSecretArn) ? upstashSecretArn : '<name>'} --query ARN --output text`,
    );
  }

  const corsOrigins = (str('corsOrigins') ?? '*').split(',').map((o) => o.trim()).filter(Boolean);
  const redisNodeType = str('redisNodeType') ?? 'cache.t4g.micro';
  if (!NODE_TYPE.test(redisNodeType)) problems.push(`redisNodeType: not a cache node type: ${redisNodeType}`);
  if (get('redisNodeType') !== undefined && redisRaw === 'upstash') {
    problems.push('redisNodeType: only meaningful with redis=elasticache');
  }

  const redisMaintenanceWindow = (str('redisMaintenanceWindow') ?? 'sun:04:00-sun:05:00').toLowerCase();
  const windowProblem = maintenanceWindowProblem(redisMaintenanceWindow);
  if (windowProblem) problems.push(`redisMaintenanceWindow: ${windowProblem}`);
  if (get('redisMaintenanceWindow') !== undefined && redisRaw === 'upstash') {
    problems.push('redisMaintenanceWindow: only meaningful with redis=elasticache');
  }

  // Two tasks minimum: one per AZ, so a task or AZ loss leaves a relay to reconnect to.
  const relayMinTasks = int('relayMinTasks', 2, 2, 100);
  const relayMaxTasks = int('relayMaxTasks', 10, 2, 1000);
  if (relayMaxTasks < relayMinTasks) problems.push('relayMaxTasks: must be >= relayMinTasks');

  const alarmEmail = str('alarmEmail');
  if (alarmEmail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) problems.push(`alarmEmail: not an email address: ${alarmEmail}`);
  const apiRateLimit = int('apiRateLimit', 1000, 1, 10_000);
  const apiBurstLimit = int('apiBurstLimit', 1000, 1, 5_000);

  const dev = bool('dev');
  const relayEntry = certificateArn ? 'certificate' : dev ? 'plain' : 'cloudfront';
  const wafWebAclArn = str('wafWebAclArn');
  if (wafWebAclArn && !WAF_ARN.test(wafWebAclArn)) {
    problems.push(`wafWebAclArn: not a CloudFront-scope (global, us-east-1) WAF web ACL ARN: ${wafWebAclArn}`);
  }
  if (wafWebAclArn && relayEntry !== 'cloudfront') {
    problems.push('wafWebAclArn: only meaningful when CloudFront fronts the relays (no certificateArn, dev not true)');
  }
  const wafUpgradeLimit = int('wafUpgradeLimit', 1000, 10, 2_000_000_000);
  // Off unless given; whole days (at least the 24 h an idempotency claim lives).
  const retentionRaw = get('messageRetentionDays');
  const messageRetentionDays = retentionRaw === undefined || retentionRaw === null || retentionRaw === '' ? undefined : int('messageRetentionDays', 0, 1, 36_500);
  if (problems.length) throw new ConfigError(problems);
  return {
    redis,
    ...(jwt && { jwt }),
    ...(certificateArn && { certificateArn }),
    ...(relayDomain && { relayDomain }),
    ...(upstashSecretArn && { upstashSecretArn }),
    dev,
    relayEntry,
    ...(wafWebAclArn && { wafWebAclArn }),
    wafUpgradeLimit,
    corsOrigins,
    redisNodeType,
    redisMaintenanceWindow,
    ...(alarmEmail && { alarmEmail }),
    apiRateLimit,
    apiBurstLimit,
    relayMinTasks,
    relayMaxTasks,
    ...(messageRetentionDays !== undefined && { messageRetentionDays }),
  };
}
