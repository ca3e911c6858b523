/**
 * Which publisher the functions pick from their environment
 * (functions/lib/publisher.ts), observed from the outside: every route a
 * publish could take has a real subscriber on it (a redis-server over classic
 * and sharded pub/sub, a Redis Cluster's owning shard, the redis-server
 * behind an Upstash-compatible REST endpoint, the in-process bus), and a
 * sentinel published on every route after the publish under test must arrive
 * last, so "nowhere else" is checked without sleeping.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processMemoryBroker } from '../../broker/memory.js';
import { closePublisher, getPublisher, getRawPublisher } from '../../functions/lib/publisher.js';
import { startRedisCluster, type RedisClusterProcess } from '../../local/redis-cluster.js';
import { startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { startUpstashRestServer, type UpstashRestServer } from '../helpers/upstash-rest-server.js';

let plain: RedisProcess;
let upstashBacking: RedisProcess;
let upstash: UpstashRestServer;
let cluster: RedisClusterProcess;

beforeAll(async () => {
  // Build-time selection would override the run-time one under test.
  delete process.env.TOWNSQUARE_PUBLISHER;
  [plain, upstashBacking, cluster] = await Promise.all([startRedisServer(), startRedisServer(), startRedisCluster({ nodes: 3 })]);
  upstash = await startUpstashRestServer({ redisUrl: upstashBacking.url });
}, 60_000);
afterAll(async () => {
  await closePublisher();
  await upstash?.close();
  await Promise.all([plain?.stop(), upstashBacking?.stop(), cluster?.stop()]);
});
afterEach(() => closePublisher());

/** Where a payload was seen: `<route>/<how>`. */
type Seen = `${'redis' | 'upstash' | 'cluster'}/${'publish' | 'spublish'}` | 'memory';

const SENTINEL = 'sentinel';

/**
 * Subscribers on every route for `channel`. `settle()` publishes the sentinel
 * on every route and resolves once each subscriber has it, then returns where
 * anything else arrived.
 */
async function tapEverywhere(channel: string): Promise<{ settle(): Promise<Array<{ seen: Seen; payload: string }>>; stop(): Promise<void> }> {
  const received: Array<{ seen: Seen; payload: string }> = [];
  const connections: Redis[] = [];
  const redisTap = async (url: string, route: 'redis' | 'upstash' | 'cluster') => {
    const sub = new Redis(url);
    connections.push(sub);
    sub.on('message', (ch: string, payload: string) => ch === channel && received.push({ seen: `${route}/publish`, payload }));
    sub.on('smessage', (ch: string, payload: string) => ch === channel && received.push({ seen: `${route}/spublish`, payload }));
    await sub.subscribe(channel);
    await sub.ssubscribe(channel);
  };
  // In a cluster, SPUBLISH reaches only subscribers on the shard owning the channel's slot
  // (and classic PUBLISH reaches every node): tap the owner.
  const seed = new Redis(cluster.url);
  const slot = Number(await seed.cluster('KEYSLOT', channel));
  const slots = (await seed.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>;
  seed.disconnect();
  const owner = slots.find(([from, to]) => slot >= from && slot <= to)![2];
  const ownerUrl = `redis://${owner[0]}:${owner[1]}`;
  await Promise.all([redisTap(plain.url, 'redis'), redisTap(upstashBacking.url, 'upstash'), redisTap(ownerUrl, 'cluster')]);
  const bus = processMemoryBroker().peer();
  bus.onMessage((ch, payload) => ch === channel && received.push({ seen: 'memory', payload }));
  await bus.subscribe(channel);

  return {
    async settle() {
      for (const url of [plain.url, upstashBacking.url, ownerUrl]) {
        const pub = new Redis(url);
        await pub.publish(channel, SENTINEL);
        await pub.spublish(channel, SENTINEL);
        pub.disconnect();
      }
      await processMemoryBroker().publish(channel, SENTINEL);
      const expected = 3 * 2 + 1;
      const deadline = Date.now() + 5000;
      while (received.filter((r) => r.payload === SENTINEL).length < expected) {
        if (Date.now() > deadline) throw new Error(`sentinels: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received.filter((r) => r.payload !== SENTINEL);
    },
    async stop() {
      await bus.close();
      for (const c of connections) c.disconnect();
    },
  };
}

let channels = 0;
/** Publishes one payload with the publisher chosen for `env`; returns where it was seen. */
async function publishWith(env: NodeJS.ProcessEnv): Promise<Seen[]> {
  const channel = `room:r_select${++channels}`;
  const tap = await tapEverywhere(channel);
  try {
    const payload = `payload ${channels}`;
    await getRawPublisher(env).publish(channel, payload);
    const seen = await tap.settle();
    // Whatever the route, the payload arrives once and untouched.
    for (const s of seen) expect(s.payload).toBe(payload);
    return seen.map((s) => s.seen);
  } finally {
    await tap.stop();
  }
}

describe('the functions publish where their environment says', () => {
  it('REDIS_URL: classic PUBLISH on that Redis', async () => {
    expect(await publishWith({ REDIS_URL: plain.url })).toEqual(['redis/publish']);
  });

  it('REDIS_URL with REDIS_CLUSTER=true: sharded SPUBLISH on the shard owning the channel', async () => {
    expect(await publishWith({ REDIS_URL: cluster.url, REDIS_CLUSTER: 'true' })).toEqual(['cluster/spublish']);
  });

  it('REDIS_CLUSTER=false, or unset, is classic pub/sub', async () => {
    expect(await publishWith({ REDIS_URL: plain.url, REDIS_CLUSTER: 'false' })).toEqual(['redis/publish']);
  });

  it('REDIS_CLUSTER=1, which the relay reads as cluster mode, is sharded pub/sub for the functions too', async () => {
    // The relay's config accepts true/false/1/0 (socket-relay/config.ts); a function that
    // published classic PUBLISH while the relays SSUBSCRIBE would deliver nothing live.
    expect(await publishWith({ REDIS_URL: cluster.url, REDIS_CLUSTER: '1' })).toEqual(['cluster/spublish']);
  });

  it('UPSTASH_REDIS_REST_URL and _TOKEN: PUBLISH over Upstash REST', async () => {
    const before = upstash.commands.length;
    expect(await publishWith({ UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token })).toEqual(['upstash/publish']);
    expect(upstash.commands.slice(before).map((c) => c[0])).toEqual(['publish']);
  });

  it('Upstash wins over REDIS_URL when both are set', async () => {
    const env = { UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token, REDIS_URL: plain.url };
    expect(await publishWith(env)).toEqual(['upstash/publish']);
  });

  it('TOWNSQUARE_BROKER=memory: the in-process bus, and REDIS_URL wins over it', async () => {
    expect(await publishWith({ TOWNSQUARE_BROKER: 'memory' })).toEqual(['memory']);
    await closePublisher();
    expect(await publishWith({ TOWNSQUARE_BROKER: 'memory', REDIS_URL: plain.url })).toEqual(['redis/publish']);
  });

  it('keeps the chosen publisher for the container (one connection, chosen once)', async () => {
    expect(await publishWith({ REDIS_URL: plain.url })).toEqual(['redis/publish']);
    // A later call with another environment gets the same publisher: the choice is per container.
    expect(await publishWith({ UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token })).toEqual(['redis/publish']);
  });

  it('with nothing configured, a publish rejects naming every option, and the logged publisher swallows it', async () => {
    await expect(getRawPublisher({}).publish('room:r_none', 'x')).rejects.toThrow(/REDIS_URL.*UPSTASH_SECRET_ARN.*TOWNSQUARE_BROKER=memory/);
    await closePublisher();
    // After a stored write, a failed publish is logged, never thrown into the response.
    await expect(getPublisher({}).publish('room:r_none', 'x')).resolves.toBeUndefined();
  });

  it('retries the choice after a failure instead of caching it', async () => {
    const env: NodeJS.ProcessEnv = {};
    const publisher = getRawPublisher(env);
    await expect(publisher.publish('room:r_later', 'x')).rejects.toThrow(/No publisher configured/);
    env.REDIS_URL = plain.url;
    const channel = `room:r_select${++channels}`;
    const tap = await tapEverywhere(channel);
    try {
      await publisher.publish(channel, 'configured now');
      expect((await tap.settle()).map((s) => s.seen)).toEqual(['redis/publish']);
    } finally {
      await tap.stop();
    }
  });
});
