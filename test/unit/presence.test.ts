/**
 * RedisPresence connects with the broker's own settings (password, cluster),
 * and counts and logs its failures instead of swallowing them. Real
 * redis-server processes (a password-protected one, and a 3-node cluster).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisClusterBroker } from '../../broker/redis-cluster.js';
import { RedisBroker } from '../../broker/redis.js';
import { startRedisCluster, type RedisClusterProcess } from '../../local/redis-cluster.js';
import { redisServerAvailable, startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { Connection, type ConnectionLimits, type Transport } from '../../socket-relay/connection.js';
import { RedisPresence, type PresenceOp } from '../../socket-relay/presence.js';
import { UserBudget } from '../../socket-relay/user-budgets.js';

const limits: ConnectionLimits = { maxSubscriptions: 10, maxBufferedBytes: 1024, frameRate: 10, frameBurst: 10, maxSignalBytes: 4096 };
const transport: Transport = { bufferedAmount: 0, send() {}, close() {} };
const connection = (id: string, userId: string) =>
  new Connection(id, userId, transport, limits, new UserBudget({ maxConnections: 10, signalRate: 5, subscribeRate: 50, subscribeBurst: 200 }));

/** A pino logger whose lines are kept as parsed objects. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string; op?: string }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe.skipIf(!redisServerAvailable())('RedisPresence', () => {
  const PASSWORD = 'presence-secret';
  let redis: RedisProcess;
  let cluster: RedisClusterProcess;

  beforeAll(async () => {
    [redis, cluster] = await Promise.all([startRedisServer({ password: PASSWORD }), startRedisCluster({ nodes: 3 })]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), cluster?.stop()]);
  });

  it('connects with the broker’s settings (here its password) and lists who is present', async () => {
    const broker = new RedisBroker({ url: redis.url, password: PASSWORD });
    const { logger, lines } = capturingLogger();
    const errors: PresenceOp[] = [];
    const presence = new RedisPresence({ connection: broker.connection, logger, onError: (op) => errors.push(op) });
    try {
      await presence.join('room:r1', connection('c1', 'alice'));
      await presence.join('room:r1', connection('c2', 'alice'));
      await presence.join('room:r1', connection('c3', 'bob'));
      expect(await presence.list('room:r1')).toEqual([
        { userId: 'alice', connections: 2 },
        { userId: 'bob', connections: 1 },
      ]);
      expect(errors).toEqual([]);
      expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    } finally {
      await Promise.all([presence.close(), broker.close()]);
    }
  });

  it('counts every failure and logs the first at warn, the rest at debug until one succeeds', async () => {
    // The password the broker would have had is missing: every command is refused.
    const { logger, lines } = capturingLogger();
    const errors: PresenceOp[] = [];
    const presence = new RedisPresence({ connection: { url: redis.url }, logger, onError: (op) => errors.push(op) });
    try {
      const c = connection('c1', 'alice');
      await presence.join('room:r2', c); // best-effort: does not throw
      await presence.leave('room:r2', c);
      await expect(presence.list('room:r2')).rejects.toThrow(); // NOAUTH, or retries exhausted
      expect(errors.filter((op) => op !== 'connection')).toEqual(['join', 'leave', 'list']);
      const failures = lines.filter((l) => l.msg.startsWith('presence: Redis operation failed'));
      expect(failures.length).toBe(errors.length);
      expect(failures[0]!.level).toBe(40); // warn
      expect(failures.slice(1).every((l) => l.level === 20)).toBe(true); // debug
    } finally {
      await presence.close();
    }
  });

  it('uses the cluster client when the broker is a cluster broker (one shard per channel’s set)', async () => {
    const broker = new RedisClusterBroker({ url: cluster.url });
    expect(broker.connection).toEqual({ url: cluster.url, cluster: true });
    const errors: PresenceOp[] = [];
    const presence = new RedisPresence({ connection: broker.connection, logger: pino({ level: 'silent' }), onError: (op) => errors.push(op) });
    try {
      // Channels spread over the shards: a standalone client would get MOVED for most of them.
      const channels = Array.from({ length: 12 }, (_, i) => `room:spread${i}`);
      for (const [i, channel] of channels.entries()) await presence.join(channel, connection(`c${i}`, `u${i}`));
      for (const [i, channel] of channels.entries()) expect(await presence.list(channel)).toEqual([{ userId: `u${i}`, connections: 1 }]);
      expect(errors).toEqual([]);
    } finally {
      await Promise.all([presence.close(), broker.close()]);
    }
  });
});
