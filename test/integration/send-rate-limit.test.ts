/**
 * The per-user send rate limit against a real redis-server (through ioredis and
 * through the Upstash REST stand-in), and the send route's 429 answer.
 */
import { Redis as UpstashRedis } from '@upstash/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ioredisRunner, RedisRateLimiter, upstashRunner, type ScriptRunner } from '../../functions/adapters/redis-rate-limiter.js';
import { checkSendRate, sendRateKey, sendRateLimitFromEnv, type RateLimiter } from '../../functions/domain/send-rate-limit.js';
import { enforceSendRate, rateLimitedResponse } from '../../functions/lib/send-rate.js';
import { startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { startUpstashRestServer, type UpstashRestServer } from '../helpers/upstash-rest-server.js';

let redis: RedisProcess;
let client: Redis;
let upstash: UpstashRestServer;
const prefix = `t${Date.now().toString(36)}`;

beforeAll(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url);
  upstash = await startUpstashRestServer({ redisUrl: redis.url });
});
afterAll(async () => {
  client?.disconnect();
  await upstash?.close();
  await redis?.stop();
});

const runners: Array<{ name: string; runner: () => ScriptRunner }> = [
  { name: 'ioredis', runner: () => ioredisRunner(client) },
  {
    name: 'Upstash REST',
    runner: () => upstashRunner(new UpstashRedis({ url: upstash.url, token: upstash.token, enableTelemetry: false, automaticDeserialization: false })),
  },
];

describe.each(runners)('RedisRateLimiter over $name', ({ name, runner }) => {
  const limit = { ratePerSecond: 10, burst: 5 };
  let clock = 1_000_000;
  const limiter = () => new RedisRateLimiter(runner(), () => clock);

  it('allows a burst, refuses the next with the wait until a token is back, then allows again', async () => {
    const key = `${prefix}:${name}:burst`;
    const l = limiter();
    for (let i = 0; i < 5; i++) expect(await l.take(key, limit), `send ${i + 1}`).toEqual({ allowed: true, retryAfterMs: 0 });
    const refused = await l.take(key, limit);
    expect(refused).toEqual({ allowed: false, retryAfterMs: 100 });
    clock += 60;
    expect(await l.take(key, limit)).toEqual({ allowed: false, retryAfterMs: 40 });
    clock += 40;
    expect((await l.take(key, limit)).allowed).toBe(true);
    expect((await l.take(key, limit)).allowed).toBe(false);
  });

  it('keeps users apart and lets the bucket expire once full again', async () => {
    const l = limiter();
    const a = `${prefix}:${name}:a`;
    const b = `${prefix}:${name}:b`;
    for (let i = 0; i < 5; i++) await l.take(a, limit);
    expect((await l.take(a, limit)).allowed).toBe(false);
    expect((await l.take(b, limit)).allowed).toBe(true);
    const ttl = await client.pttl(a);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(500); // 5 tokens × 100 ms: the key lives only while the bucket is not full
  });
});

describe('concurrent containers', () => {
  it('never lets more than the burst through at once (separate connections racing)', async () => {
    const clients = Array.from({ length: 4 }, () => new Redis(redis.url));
    try {
      const key = `${prefix}:race`;
      const limit = { ratePerSecond: 0.001, burst: 7 };
      const decisions = await Promise.all(
        Array.from({ length: 40 }, (_, i) => new RedisRateLimiter(ioredisRunner(clients[i % 4]!)).take(key, limit)),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(7);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});

describe('checkSendRate', () => {
  it('fails open when the limiter throws or hangs, and reports it', async () => {
    const errors: unknown[] = [];
    const failing: RateLimiter = { take: () => Promise.reject(new Error('connection refused')) };
    expect(await checkSendRate(failing, 'u1', { onError: (e) => errors.push(e) })).toEqual({ allowed: true, retryAfterMs: 0 });
    const hanging: RateLimiter = { take: () => new Promise(() => {}) };
    const started = Date.now();
    expect(await checkSendRate(hanging, 'u1', { timeoutMs: 50, onError: (e) => errors.push(e) })).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(errors.map((e) => (e as Error).message)).toEqual(['connection refused', expect.stringMatching(/no answer within 50 ms/)]);
  });

  it('fails open against a stopped Redis', async () => {
    const dead = await startRedisServer();
    const deadClient = new Redis(dead.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    deadClient.on('error', () => {});
    await dead.stop();
    const errors: unknown[] = [];
    const decision = await checkSendRate(new RedisRateLimiter(ioredisRunner(deadClient)), 'u1', { onError: (e) => errors.push(e) });
    expect(decision.allowed).toBe(true);
    expect(errors).toHaveLength(1);
    deadClient.disconnect();
  });

  it('reads its limit from the environment and rejects nonsense', () => {
    expect(sendRateLimitFromEnv({})).toEqual({ ratePerSecond: 5, burst: 20 });
    expect(sendRateLimitFromEnv({ SEND_RATE_PER_SECOND: '2', SEND_RATE_BURST: '4' })).toEqual({ ratePerSecond: 2, burst: 4 });
    expect(() => sendRateLimitFromEnv({ SEND_RATE_PER_SECOND: '0', SEND_RATE_BURST: 'x' })).toThrow(/SEND_RATE_PER_SECOND.*SEND_RATE_BURST/);
  });
});

describe('the send route answer', () => {
  it('is 429 rate_limited with Retry-After in whole seconds', () => {
    const r = rateLimitedResponse(1200);
    expect(r.statusCode).toBe(429);
    expect(r.headers).toMatchObject({ 'retry-after': '2', 'content-type': 'application/json' });
    expect(JSON.parse(r.body as string)).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining('2 s') } });
    expect(rateLimitedResponse(10).headers!['retry-after']).toBe('1');
  });

  it('enforceSendRate limits a user through REDIS_URL once SEND_RATE_PER_SECOND is set', async () => {
    const env = { REDIS_URL: redis.url, SEND_RATE_PER_SECOND: '0.01', SEND_RATE_BURST: '2' };
    const user = `${prefix}-user`;
    expect(await enforceSendRate(user, env)).toBeUndefined();
    expect(await enforceSendRate(user, env)).toBeUndefined();
    const third = await enforceSendRate(user, env);
    expect(third?.statusCode).toBe(429);
    expect(Number(third?.headers?.['retry-after'])).toBeGreaterThanOrEqual(99);
    expect(await client.exists(sendRateKey(user))).toBe(1);
    // Unset: the local stack default, no limit and no Redis call.
    expect(await enforceSendRate(user, { REDIS_URL: redis.url })).toBeUndefined();
  });
});
