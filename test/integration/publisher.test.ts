/**
 * One publish suite, run against every Publisher the functions can use:
 * RedisBroker (ioredis, ElastiCache / any Redis) and UpstashPublisher
 * (@upstash/redis over REST, here against an Upstash-compatible test endpoint
 * backed by the same redis-server). A raw ioredis subscriber is the observer.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publisher } from '../../broker/types.js';
import { RedisBroker } from '../../broker/redis.js';
import { UpstashPublisher, UpstashPublisherError } from '../../functions/adapters/upstash-publisher.js';
import { freePort, startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { startUpstashRestServer, type UpstashRestServer } from '../helpers/upstash-rest-server.js';

interface Target {
  /** A publisher for the shared redis-server. */
  create(): Publisher;
  /** A publisher whose credentials the server rejects. */
  createWithBadCredentials(): Publisher;
  /** A publisher pointed at a port nobody listens on. */
  createUnreachable(port: number): Publisher;
  close(p: Publisher): Promise<void>;
}

let redis: RedisProcess;
let passwordRedis: RedisProcess;
let upstash: UpstashRestServer;
let subscriber: Redis;

beforeAll(async () => {
  [redis, passwordRedis] = await Promise.all([startRedisServer(), startRedisServer({ password: 'right-password' })]);
  upstash = await startUpstashRestServer({ redisUrl: redis.url });
  subscriber = new Redis(redis.url);
});

afterAll(async () => {
  subscriber?.disconnect();
  await upstash?.close();
  await Promise.all([redis?.stop(), passwordRedis?.stop()]);
});

const closeBroker = async (p: Publisher): Promise<void> => {
  if (p instanceof RedisBroker) await p.close();
};

const targets: Record<string, Target> = {
  RedisBroker: {
    create: () => new RedisBroker({ url: redis.url }),
    createWithBadCredentials: () =>
      new RedisBroker({ url: `redis://:wrong-password@127.0.0.1:${passwordRedis.port}`, redis: { retryStrategy: () => null } }),
    createUnreachable: (port) => new RedisBroker({ url: `redis://127.0.0.1:${port}`, redis: { retryStrategy: () => null } }),
    close: closeBroker,
  },
  UpstashPublisher: {
    create: () => new UpstashPublisher({ url: upstash.url, token: upstash.token }),
    createWithBadCredentials: () => new UpstashPublisher({ url: upstash.url, token: 'not-the-token' }),
    createUnreachable: (port) => new UpstashPublisher({ url: `http://127.0.0.1:${port}`, token: 'x', retries: 0 }),
    close: async () => {},
  },
};

let channelSeq = 0;
const uniqueChannel = (name: string): string => `test:${process.pid}:${name}:${++channelSeq}`;

/** Subscribes the raw observer and collects what arrives on `channel`. */
async function observe(channel: string): Promise<{ received: string[]; until(n: number): Promise<void>; stop(): Promise<void> }> {
  const received: string[] = [];
  const onMessage = (ch: string, payload: string): void => {
    if (ch === channel) received.push(payload);
  };
  subscriber.on('message', onMessage);
  await subscriber.subscribe(channel);
  return {
    received,
    async until(n) {
      const deadline = Date.now() + 5000;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`received ${received.length} of ${n} messages on ${channel}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop() {
      subscriber.off('message', onMessage);
      await subscriber.unsubscribe(channel);
    },
  };
}

describe.each(Object.entries(targets))('%s publishes to Redis pub/sub', (_name, target) => {
  let publisher: Publisher;
  beforeAll(() => {
    publisher = target.create();
  });
  afterAll(async () => {
    await target.close(publisher);
  });

  it('delivers N messages exactly once and in publish order', async () => {
    const channel = uniqueChannel('order');
    const sub = await observe(channel);
    const sent = Array.from({ length: 200 }, (_, i) => JSON.stringify({ v: 1, seq: i + 1, text: `message ${i + 1}` }));
    for (const payload of sent) await publisher.publish(channel, payload);
    await sub.until(sent.length);
    await new Promise((r) => setTimeout(r, 50)); // nothing extra trails in
    expect(sub.received).toEqual(sent);
    await sub.stop();
  });

  it('delivers payloads byte for byte (unicode, quotes, newlines, 64 KiB)', async () => {
    const channel = uniqueChannel('bytes');
    const sub = await observe(channel);
    const sent = [
      '{"text":"héllo wörld 👋 — 你好"}',
      'line one\nline "two"\t\\ backslash',
      'x'.repeat(64 * 1024),
      '',
      '12345',
      'OK',
    ];
    for (const payload of sent) await publisher.publish(channel, payload);
    await sub.until(sent.length);
    expect(sub.received).toEqual(sent);
    await sub.stop();
  });

  it('delivers every concurrent publish exactly once', async () => {
    const channel = uniqueChannel('concurrent');
    const sub = await observe(channel);
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    await Promise.all(sent.map((p) => publisher.publish(channel, p)));
    await sub.until(sent.length);
    expect([...sub.received].sort()).toEqual([...sent].sort());
    await sub.stop();
  });

  it('keeps channels apart', async () => {
    const a = uniqueChannel('a');
    const b = uniqueChannel('b');
    const subA = await observe(a);
    const subB = await observe(b);
    await publisher.publish(a, 'for a');
    await publisher.publish(b, 'for b');
    await subA.until(1);
    await subB.until(1);
    expect(subA.received).toEqual(['for a']);
    expect(subB.received).toEqual(['for b']);
    await Promise.all([subA.stop(), subB.stop()]);
  });

  it('resolves when nobody is subscribed', async () => {
    await expect(publisher.publish(uniqueChannel('nobody'), 'into the void')).resolves.toBeUndefined();
  });

  it('rejects with an error when the credentials are wrong', async () => {
    const bad = target.createWithBadCredentials();
    try {
      await expect(bad.publish(uniqueChannel('bad-credentials'), 'x')).rejects.toThrow(/WRONGPASS|NOAUTH|Unauthorized|auth/i);
    } finally {
      await target.close(bad);
    }
  });

  it('rejects instead of hanging when the server is unreachable', async () => {
    const unreachable = target.createUnreachable(await freePort());
    try {
      await expect(unreachable.publish(uniqueChannel('unreachable'), 'x')).rejects.toThrow();
    } finally {
      await target.close(unreachable);
    }
  });
});

describe('UpstashPublisher specifics', () => {
  it('sends PUBLISH with the payload untouched (no JSON re-serialization)', async () => {
    const before = upstash.commands.length;
    const payload = '{"already":"serialized"}';
    await new UpstashPublisher({ url: upstash.url, token: upstash.token }).publish('test:wire', payload);
    expect(upstash.commands.slice(before)).toEqual([['publish', 'test:wire', payload]]);
  });

  it('wraps failures in UpstashPublisherError naming the channel', async () => {
    const err = await new UpstashPublisher({ url: upstash.url, token: 'nope' }).publish('room:42', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstashPublisherError);
    expect((err as Error).message).toContain('room:42');
    expect((err as UpstashPublisherError).code).toBe('publish_failed');
  });

  it('rejects missing options up front, listing every problem', () => {
    expect(() => new UpstashPublisher({ url: 'not a url', token: '' })).toThrow(/url must be.*token is required/);
  });
});
