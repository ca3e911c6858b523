// One Broker contract suite run against every implementation (MemoryBroker, RedisBroker on a real redis-server,
// RedisClusterBroker on a real 3-node Redis Cluster), plus Redis reconnects and cluster sharding.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../broker/memory.js';
import { RedisClusterBroker } from '../../broker/redis-cluster.js';
import { RedisBroker } from '../../broker/redis.js';
import { shardHealthProbe } from '../../broker/ioredis-shards.js';
import type { Broker } from '../../broker/types.js';
import { startRedisCluster, type RedisClusterProcess } from '../../local/redis-cluster.js';
import { redisServerAvailable, startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { eventually, numsub } from '../helpers/redis.js';

interface Received {
  channel: string;
  payload: string;
}

interface BrokerFactory {
  /** Two brokers that talk through the same bus / server (as two relays, or a function and a relay). */
  pair(): { publisher: Broker; subscriber: Broker };
  /** How many broker connections are subscribed to `channel` on the shared bus. */
  subscribers(channel: string): Promise<number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniqueChannel = (what: string) => `room:${what}-${randomUUID().slice(0, 8)}`;

function listen(broker: Broker): Received[] {
  const received: Received[] = [];
  broker.onMessage((channel, payload) => received.push({ channel, payload }));
  return received;
}

function brokerContract(name: string, setup: () => BrokerFactory) {
  describe(`Broker contract: ${name}`, () => {
    let factory: BrokerFactory;
    const open: Broker[] = [];
    const pair = () => {
      const p = factory.pair();
      open.push(p.publisher, p.subscriber);
      return p;
    };

    beforeAll(() => {
      factory = setup();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    it('delivers a publish to a subscriber on another broker instance', async () => {
      const { publisher, subscriber } = pair();
      const received = listen(subscriber);
      const channel = uniqueChannel('hello');
      await subscriber.subscribe(channel);
      await publisher.publish(channel, 'payload-1');
      await eventually(() => received.length === 1, 5000, 'delivery');
      expect(received).toEqual([{ channel, payload: 'payload-1' }]);
      await sleep(50);
      expect(received).toHaveLength(1); // exactly once
    });

    it('routes each channel to the one listener with the right channel name', async () => {
      const { publisher, subscriber } = pair();
      const received = listen(subscriber);
      const [c1, c2, unsubscribed] = [uniqueChannel('a'), uniqueChannel('b'), uniqueChannel('c')];
      await subscriber.subscribe(c1);
      await subscriber.subscribe(c2);
      await publisher.publish(unsubscribed, 'never');
      await publisher.publish(c1, 'one');
      await publisher.publish(c2, 'two');
      await eventually(() => received.length === 2, 5000, 'both channels');
      expect(received).toEqual([
        { channel: c1, payload: 'one' },
        { channel: c2, payload: 'two' },
      ]);
    });

    it('preserves the order of 500 messages', async () => {
      const { publisher, subscriber } = pair();
      const received = listen(subscriber);
      const channel = uniqueChannel('order');
      await subscriber.subscribe(channel);
      const sent = Array.from({ length: 500 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(i % 50) }));
      await Promise.all(sent.map((payload) => publisher.publish(channel, payload)));
      await eventually(() => received.length >= 500, 10_000, '500 messages');
      expect(received.map((r) => r.payload)).toEqual(sent);
    });

    it('stops delivery after unsubscribe', async () => {
      const { publisher, subscriber } = pair();
      const received = listen(subscriber);
      const channel = uniqueChannel('unsub');
      const sentinel = uniqueChannel('sentinel');
      await subscriber.subscribe(channel);
      await subscriber.subscribe(sentinel);
      await publisher.publish(channel, 'before');
      await eventually(() => received.length === 1, 5000, 'first message');

      await subscriber.unsubscribe(channel);
      await eventually(async () => (await factory.subscribers(channel)) === 0, 5000, 'unsubscribe to take effect');
      await publisher.publish(channel, 'after');
      // The sentinel is published later on the same connection, so once it arrives, 'after' would have too.
      await publisher.publish(sentinel, 'sentinel');
      await eventually(() => received.some((r) => r.channel === sentinel), 5000, 'sentinel');
      expect(received.map((r) => r.payload)).toEqual(['before', 'sentinel']);
    });

    it('accepts a publish to a channel nobody subscribes to', async () => {
      const { publisher } = pair();
      const channel = uniqueChannel('nobody');
      expect(await factory.subscribers(channel)).toBe(0);
      await expect(publisher.publish(channel, 'into the void')).resolves.toBeUndefined();
    });

    it('counts one subscription per broker, not per subscribe call', async () => {
      const { subscriber } = pair();
      const other = pair().subscriber;
      const channel = uniqueChannel('count');
      await subscriber.subscribe(channel);
      await subscriber.subscribe(channel);
      expect(await factory.subscribers(channel)).toBe(1);
      await other.subscribe(channel);
      expect(await factory.subscribers(channel)).toBe(2);
    });

    it('close() releases every subscription and stops delivery', async () => {
      const { publisher, subscriber } = pair();
      const watcher = pair().subscriber;
      const received = listen(subscriber);
      const watched = listen(watcher);
      const channel = uniqueChannel('close');
      await subscriber.subscribe(channel);
      await watcher.subscribe(channel);
      expect(await factory.subscribers(channel)).toBe(2);

      await subscriber.close();
      await eventually(async () => (await factory.subscribers(channel)) === 1, 5000, 'release on close');
      await publisher.publish(channel, 'after close');
      await eventually(() => watched.length === 1, 5000, 'watcher delivery');
      await sleep(50);
      expect(received).toEqual([]);
      // Closing twice is harmless.
      await expect(subscriber.close()).resolves.toBeUndefined();
    });
  });
}

brokerContract('MemoryBroker', () => {
  const bus = new MemoryBroker();
  return {
    pair: () => ({ publisher: bus.peer(), subscriber: bus.peer() }),
    subscribers: async (channel) => bus.subscriberCount(channel),
  };
});

describe.skipIf(!redisServerAvailable())('redis', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedisServer();
    expect(redis.port).not.toBe(6379);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  brokerContract('RedisBroker', () => ({
    pair: () => ({ publisher: new RedisBroker({ url: redis.url }), subscriber: new RedisBroker({ url: redis.url }) }),
    subscribers: (channel) => numsub(redis.url, channel),
  }));

  describe('RedisBroker reconnects', () => {
    it('resubscribes by itself after redis-server dies and comes back, reporting health on the way', async () => {
      const events: string[] = [];
      const onEvent = (event: string, role: string) => events.push(`${role}:${event}`);
      const lifecycle: string[] = [];
      /** Subscriptions the server held when `resubscribed` was reported. */
      let numsubAtResubscribed: Promise<number> | null = null;
      const onLifecycle = (event: string) => {
        lifecycle.push(event);
        if (event === 'resubscribed') numsubAtResubscribed = numsub(redis.url, channel);
      };
      const subscriber = new RedisBroker({ url: redis.url, onEvent, onLifecycle });
      const publisher = new RedisBroker({ url: redis.url });
      const received = listen(subscriber);
      const channel = uniqueChannel('restart');
      try {
        await subscriber.subscribe(channel);
        await subscriber.ready();
        expect(subscriber.healthy).toBe(true);
        await publisher.publish(channel, 'before');
        await eventually(() => received.length === 1, 5000, 'message before the crash');

        expect(lifecycle).toEqual([]); // the first connect is no recovery
        await redis.kill();
        await eventually(() => !subscriber.healthy, 5000, 'healthy to turn false');
        expect(events).toContain('subscriber:reconnecting');
        expect(lifecycle).toEqual(['down']);
        // Let ioredis retry several times: one outage, however many attempts.
        await eventually(() => events.filter((e) => e === 'subscriber:reconnecting').length >= 3, 5000, 'several reconnect attempts');

        await redis.restart();
        // A fresh server knows no subscriptions: delivery resumes only if the broker resubscribed.
        const deadline = Date.now() + 10_000;
        let n = 0;
        while (!received.some((r) => r.payload.startsWith('after-'))) {
          if (Date.now() > deadline) throw new Error(`no delivery within 10 s of the restart; events: ${events.join(', ')}`);
          await Promise.race([publisher.publish(channel, `after-${n++}`).catch(() => {}), sleep(200)]);
          await sleep(50);
        }
        await eventually(() => subscriber.healthy, 5000, 'healthy to turn true');
        expect(await numsub(redis.url, channel)).toBe(1);
        expect(events.lastIndexOf('subscriber:ready')).toBeGreaterThan(events.indexOf('subscriber:reconnecting'));
        expect(received[0]).toEqual({ channel, payload: 'before' });
        // One outage reported once, and `resubscribed` only once the server held the subscription again.
        await eventually(() => lifecycle.length === 3, 5000, 'resubscribed');
        expect(lifecycle).toEqual(['down', 'up', 'resubscribed']);
        expect(await numsubAtResubscribed).toBe(1);
      } finally {
        await Promise.all([subscriber.close(), publisher.close()]);
      }
    });

    it('is healthy before it has ever subscribed (nothing to be unhealthy about)', async () => {
      const broker = new RedisBroker({ url: redis.url });
      expect(broker.healthy).toBe(true);
      await broker.close();
    });
  });
});

/** `PUBSUB SHARDNUMSUB` of each channel on the single node at `port` (0 for a channel whose slot another node owns). */
async function shardNumsubAt(port: number, channels: string[]): Promise<number[]> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', ...channels)) as (string | number)[];
    return channels.map((_, i) => Number(reply[2 * i + 1]));
  } finally {
    redis.disconnect();
  }
}

/** Index (into `cluster.ports`) of the node owning each channel's hash slot, per the cluster itself. */
async function ownerIndexes(cluster: RedisClusterProcess, channels: string[]): Promise<number[]> {
  const redis = new Redis(cluster.url);
  try {
    const ranges = (await redis.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    return Promise.all(
      channels.map(async (channel) => {
        const slot = Number(await redis.cluster('KEYSLOT', channel));
        const [, , [, port]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
        return cluster.ports.indexOf(port);
      }),
    );
  } finally {
    redis.disconnect();
  }
}

describe.skipIf(!redisServerAvailable())('redis cluster', () => {
  let cluster: RedisClusterProcess;
  // Any node's URL is a valid seed: use a different one per client to show it.
  let seed = 0;
  const nextUrl = () => cluster.urls[seed++ % cluster.urls.length]!;
  /** Sharded subscriptions to each channel summed over every node, so one left on a wrong node counts too. */
  const shardCounts = async (channels: string[]) => {
    const perNode = await Promise.all(cluster.ports.map((port) => shardNumsubAt(port, channels)));
    return channels.map((_, c) => perNode.reduce((sum, counts) => sum + counts[c]!, 0));
  };
  const shardSubscribers = async (channel: string) => (await shardCounts([channel]))[0]!;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodes: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  brokerContract('RedisClusterBroker', () => ({
    pair: () => ({ publisher: new RedisClusterBroker({ url: nextUrl() }), subscriber: new RedisClusterBroker({ url: nextUrl() }) }),
    subscribers: shardSubscribers,
  }));

  describe('RedisClusterBroker sharding', () => {
    it('delivers on channels spread over every shard, each subscription held only by the slot owner', async () => {
      const publisher = new RedisClusterBroker({ url: nextUrl() });
      const subscriber = new RedisClusterBroker({ url: nextUrl() });
      const received = listen(subscriber);
      const channels = Array.from({ length: 50 }, (_, i) => uniqueChannel(`shard-${i}`));
      try {
        const owners = await ownerIndexes(cluster, channels);
        expect(new Set(owners).size).toBe(cluster.ports.length); // the test really spans every shard
        await Promise.all(channels.map((c) => subscriber.subscribe(c)));

        const perNode = await Promise.all(cluster.ports.map((port) => shardNumsubAt(port, channels)));
        channels.forEach((_, c) => expect(perNode.map((counts) => counts[c])).toEqual(cluster.ports.map((_, n) => (n === owners[c] ? 1 : 0))));

        await Promise.all(channels.map((c, i) => publisher.publish(c, `m-${i}`)));
        await eventually(() => received.length === channels.length, 5000, 'a message on every channel');
        expect(new Set(received.map((r) => `${r.channel}|${r.payload}`))).toEqual(new Set(channels.map((c, i) => `${c}|m-${i}`)));

        // Unsubscribing releases the subscription on the owning shard...
        const [dropped, kept] = [channels.slice(0, 25), channels.slice(25)];
        await Promise.all(dropped.map((c) => subscriber.unsubscribe(c)));
        await eventually(async () => (await shardCounts(dropped)).every((n) => n === 0), 5000, 'sunsubscribe');
        expect(await shardCounts(kept)).toEqual(kept.map(() => 1));

        // ...and close() releases the rest on every shard: no orphaned sharded subscriptions.
        await subscriber.close();
        await eventually(async () => (await shardCounts(kept)).every((n) => n === 0), 5000, 'release on close');
      } finally {
        await Promise.all([subscriber.close(), publisher.close()]);
      }
    });

    it('resubscribes after the node owning a channel restarts, while other shards keep delivering', async () => {
      const events: string[] = [];
      const onEvent = (event: string, role: string) => events.push(`${role}:${event}`);
      const lifecycle: string[] = [];
      const internals: string[] = [];
      const subscriber = new RedisClusterBroker({
        url: nextUrl(),
        onEvent,
        onLifecycle: (event) => lifecycle.push(event),
        onInternalsChanged: (problem) => internals.push(problem),
      });
      const publisher = new RedisClusterBroker({ url: nextUrl() });
      const received = listen(subscriber);
      // One channel on the node to restart, one on another shard.
      const candidates = Array.from({ length: 20 }, (_, i) => uniqueChannel(`restart-${i}`));
      const owners = await ownerIndexes(cluster, candidates);
      const victim = owners[0]!;
      const channel = candidates[0]!;
      const other = candidates[owners.findIndex((o) => o !== victim)]!;
      const got = (ch: string, prefix: string) => received.some((r) => r.channel === ch && r.payload.startsWith(prefix));
      /** Publishes `prefix-n` repeatedly until one arrives: after a restart, publishes may fail or be lost until resubscription. */
      const publishUntilDelivered = async (ch: string, prefix: string, timeoutMs = 10_000) => {
        const deadline = Date.now() + timeoutMs;
        for (let n = 0; !got(ch, prefix); n++) {
          if (Date.now() > deadline) throw new Error(`no ${prefix} delivery on ${ch}; events: ${events.join(', ')}`);
          await Promise.race([publisher.publish(ch, `${prefix}-${n}`).catch(() => {}), sleep(200)]);
          await sleep(50);
        }
      };
      try {
        await subscriber.subscribe(channel);
        await subscriber.subscribe(other);
        await subscriber.ready();
        expect(subscriber.healthy).toBe(true);
        await publisher.publish(channel, 'before');
        await eventually(() => got(channel, 'before'), 5000, 'message before the crash');

        expect(lifecycle).toEqual([]);
        await cluster.killNode(victim);
        await eventually(() => !subscriber.healthy, 5000, 'healthy to turn false');
        expect(events).toContain('subscriber:reconnecting');
        expect(lifecycle).toEqual(['down']);
        await publishUntilDelivered(other, 'during'); // the other shard is unaffected

        await cluster.restartNode(victim);
        // A restarted node knows no subscriptions: delivery resumes only if the broker resubscribed.
        await publishUntilDelivered(channel, 'after');
        await eventually(() => subscriber.healthy, 5000, 'healthy to turn true');
        expect(await shardNumsubAt(cluster.ports[victim]!, [channel, other])).toEqual([1, 0]);
        expect(await shardSubscribers(other)).toBe(1);
        expect(events.lastIndexOf('subscriber:ready')).toBeGreaterThan(events.indexOf('subscriber:reconnecting'));
        expect(lifecycle).toEqual(['down', 'up', 'resubscribed']);
        expect(internals).toEqual([]); // ioredis's private shard state is where the guard expects it
      } finally {
        await Promise.all([subscriber.close(), publisher.close()]);
      }
    });

    it('is healthy before it has ever subscribed (nothing to be unhealthy about)', async () => {
      const broker = new RedisClusterBroker({ url: cluster.url });
      expect(broker.healthy).toBe(true);
      await broker.close();
    });
  });
});

describe('RedisBroker.close', () => {
  it('returns promptly when Redis never became reachable', async () => {
    const { RedisBroker } = await import('../../broker/redis.js');
    const { freePort } = await import('../../local/redis-server.js');
    const broker = new RedisBroker({ url: `redis://127.0.0.1:${await freePort()}` });
    void broker.ready();
    void broker.subscribe('room:nobody-home').catch(() => {});
    const started = Date.now();
    await broker.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('shardHealthProbe (the guarded ioredis internals)', () => {
  it('reads the sharded subscribers of a Cluster made with shardedSubscribers', async () => {
    const { Cluster } = await import('ioredis');
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, shardedSubscribers: true });
    const problems: string[] = [];
    const probe = shardHealthProbe(cluster, (p) => problems.push(p));
    expect(probe.usingInternals).toBe(true);
    expect(probe.healthy()).toBe(true); // no shard started yet
    expect(problems).toEqual([]);
    cluster.disconnect();
  });

  it('says so once and falls back to public events when the private state is not there', async () => {
    const { Cluster } = await import('ioredis');
    // Without shardedSubscribers ioredis builds no subscriber group: the shape a version change could bring.
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const problems: string[] = [];
    const probe = shardHealthProbe(cluster, (p) => problems.push(p));
    expect(probe.usingInternals).toBe(false);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/ioredis internals changed.*Check the ioredis version/);
    expect(probe.healthy()).toBe(true);
    cluster.emit('-node', null); // a cluster node, not a shard subscriber: no node key
    expect(probe.healthy()).toBe(true);
    cluster.emit('-node', null, '127.0.0.1:7001');
    expect(probe.healthy()).toBe(false);
    cluster.emit('subscribersReady');
    expect(probe.healthy()).toBe(true);
    expect(problems).toHaveLength(1);
    cluster.disconnect();
  });
});
