/**
 * The presence script on Redis Cluster and under races, below the relay: each
 * RedisPresence stands for one relay (its own Redis connection), and a broker
 * subscriber (SSUBSCRIBE on the cluster, as relays do) records every event.
 * Channels spread over the shards; many connections of the same users join
 * and leave from every "relay" at once. Per user and channel, the events must
 * alternate join/leave and end in the final state, and each must decode as a
 * valid envelope.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisClusterBroker } from '../../broker/redis-cluster.js';
import { RedisBroker } from '../../broker/redis.js';
import type { Broker } from '../../broker/types.js';
import { startRedisCluster, type RedisClusterProcess } from '../../local/redis-cluster.js';
import { startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { decodeEnvelope } from '../../protocol/index.js';
import { Connection, type Transport } from '../../socket-relay/connection.js';
import { RedisPresence, type PresenceOp } from '../../socket-relay/presence.js';
import { UserBudget } from '../../socket-relay/user-budgets.js';
import { eventually } from '../helpers/redis.js';

const limits = { maxSubscriptions: 10, maxBufferedBytes: 1 << 20, frameRate: 50, frameBurst: 100, maxSignalBytes: 4096 };
const transport: Transport = { send() {}, close() {}, bufferedAmount: 0 };
const connection = (id: string, userId: string) => new Connection(id, userId, transport, limits, new UserBudget({ maxConnections: 10, signalRate: 20, subscribeRate: 50, subscribeBurst: 200 }));

let cluster: RedisClusterProcess;
let redis: RedisProcess;
beforeAll(async () => {
  [cluster, redis] = await Promise.all([startRedisCluster({ nodes: 3 }), startRedisServer()]);
});
afterAll(async () => {
  await Promise.all([cluster?.stop(), redis?.stop()]);
});

const RELAYS = 4;
const USERS = ['alice', 'bob', 'carol'];
const CHANNELS = Array.from({ length: 6 }, (_, i) => `room:race${i}`);

async function race(connectionSettings: { url: string; cluster: boolean }, broker: Broker): Promise<void> {
  const events = new Map<string, string[]>();
  let invalid = 0;
  broker.onMessage((channel, payload) => {
    const envelope = decodeEnvelope(payload);
    if (envelope?.kind !== 'presence' || envelope.channel !== channel) return void invalid++;
    const key = `${channel} ${envelope.userId}`;
    events.set(key, [...(events.get(key) ?? []), envelope.event]);
  });
  for (const channel of CHANNELS) await broker.subscribe(channel);
  const errors: PresenceOp[] = [];
  const relays = Array.from({ length: RELAYS }, () => new RedisPresence({ connection: connectionSettings, logger: pino({ level: 'silent' }), onError: (op) => errors.push(op) }));
  try {
    // Every relay holds two connections of every user on every channel, each joining and leaving 8 times at once.
    let next = 0;
    const runs = relays.flatMap((presence, r) =>
      CHANNELS.flatMap((channel) =>
        USERS.flatMap((userId) =>
          [0, 1].map(async (tab) => {
            const c = connection(`r${r}.${next++}`, userId);
            for (let i = 0; i < 8; i++) {
              await presence.join(channel, c);
              if (Math.random() < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
              await presence.leave(channel, c);
            }
            // Alice stays, once, on relay 0 only.
            if (userId === 'alice' && r === 0 && tab === 0) await presence.join(channel, c);
          }),
        ),
      ),
    );
    await Promise.all(runs);
    const settled = () => CHANNELS.every((channel) => USERS.every((u) => (events.get(`${channel} ${u}`)?.at(-1) ?? 'leave') === (u === 'alice' ? 'join' : 'leave')));
    await eventually(settled, 10_000, 'every last event to arrive');
    await new Promise((resolve) => setTimeout(resolve, 200)); // anything late would break the alternation below
    expect(errors).toEqual([]);
    expect(invalid).toBe(0);
    for (const channel of CHANNELS) {
      for (const userId of USERS) {
        const seen = events.get(`${channel} ${userId}`) ?? [];
        expect(seen.length).toBeGreaterThan(0);
        expect({ channel, userId, seen }).toEqual({ channel, userId, seen: seen.map((_, k) => (k % 2 === 0 ? 'join' : 'leave')) });
      }
      expect(await relays[1]!.list(channel)).toEqual([{ userId: 'alice', connections: 1 }]);
    }
  } finally {
    await Promise.all(relays.map((p) => p.close()));
    await broker.close();
  }
}

describe('the presence script', () => {
  it('publishes exact, alternating events on standalone Redis (PUBLISH) while four relays race', async () => {
    await race({ url: redis.url, cluster: false }, new RedisBroker({ url: redis.url }));
  }, 60_000);

  it('does the same on Redis Cluster, publishing with SPUBLISH on the shard of each channel', async () => {
    await race({ url: cluster.url, cluster: true }, new RedisClusterBroker({ url: cluster.url }));
  }, 60_000);
});
