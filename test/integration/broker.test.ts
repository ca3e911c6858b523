// One Broker contract suite run against every implementation (MemoryBroker, RedisBroker on a real redis-server), plus Redis reconnects.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../broker/memory.js';
import { RedisBroker } from '../../broker/redis.js';
import type { Broker } from '../../broker/types.js';
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
      const subscriber = new RedisBroker({ url: redis.url, onEvent });
      const publisher = new RedisBroker({ url: redis.url });
      const received = listen(subscriber);
      const channel = uniqueChannel('restart');
      try {
        await subscriber.subscribe(channel);
        await subscriber.ready();
        expect(subscriber.healthy).toBe(true);
        await publisher.publish(channel, 'before');
        await eventually(() => received.length === 1, 5000, 'message before the crash');

        await redis.kill();
        await eventually(() => !subscriber.healthy, 5000, 'healthy to turn false');
        expect(events).toContain('subscriber:reconnecting');

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
