/**
 * Presence ghosts of a dead relay are bounded: RedisPresence entries live for
 * `ttlMs` unless their relay refreshes them. A "relay" here is a RedisPresence
 * in its own process, killed with SIGKILL (no leave, no quit), next to a live
 * one in this process, both against a real redis-server. The relay processes
 * of the production bundle use the default TTL (15 s; not configurable from
 * the environment), too long to wait out in a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../broker/redis.js';
import { startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { decodeEnvelope } from '../../protocol/index.js';
import { Connection, type Transport } from '../../socket-relay/connection.js';
import { RedisPresence, type PresenceMember } from '../../socket-relay/presence.js';
import { SWEEP_BATCH } from '../../socket-relay/presence-scripts.js';
import { UserBudget } from '../../socket-relay/user-budgets.js';

const TTL_MS = 600;
/** RedisPresence's default with a custom TTL: a third of it. */
const HEARTBEAT_MS = TTL_MS / 3;
const limits = { maxSubscriptions: 10, maxBufferedBytes: 1 << 20, frameRate: 50, frameBurst: 100, maxSignalBytes: 4096 };
const budgetLimits = { maxConnections: 10, signalRate: 20, subscribeRate: 50, subscribeBurst: 200 };
/** Presence reads only who and which connection; nothing is ever sent on this one. */
const silentTransport: Transport = { send() {}, close() {}, bufferedAmount: 0 };
const connection = (id: string, userId: string) => new Connection(id, userId, silentTransport, limits, new UserBudget(budgetLimits));

let redis: RedisProcess;
let live: RedisPresence;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  live = new RedisPresence({ connection: { url: redis.url }, logger: pino({ level: 'silent' }), ttlMs: TTL_MS });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await live?.close();
  await redis?.stop();
});

/**
 * Starts a process holding a RedisPresence (refreshing every ttl/3, as a relay
 * does) that joins `joins` ([channel, connectionId, userId]); resolves once
 * every join is stored.
 */
async function startPresenceProcess(joins: Array<[string, string, string]>): Promise<ChildProcess> {
  const url = (path: string) => pathToFileURL(resolve(path)).href;
  const code = `
    const { RedisPresence } = await import(${JSON.stringify(url('socket-relay/presence.ts'))});
    const { Connection } = await import(${JSON.stringify(url('socket-relay/connection.ts'))});
    const { UserBudget } = await import(${JSON.stringify(url('socket-relay/user-budgets.ts'))});
    const { pino } = await import('pino');
    const presence = new RedisPresence({ connection: { url: ${JSON.stringify(redis.url)} }, logger: pino({ level: 'silent' }), ttlMs: ${TTL_MS} });
    const transport = { send() {}, close() {}, bufferedAmount: 0 };
    for (const [channel, id, userId] of ${JSON.stringify(joins)}) {
      await presence.join(channel, new Connection(id, userId, transport, ${JSON.stringify(limits)}, new UserBudget(${JSON.stringify(budgetLimits)})));
    }
    console.log('joined');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  await new Promise<void>((resolveJoined, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('joined')) resolveJoined();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (status) => reject(new Error(`presence process exited with ${status}:\n${output}`)));
  });
  return child;
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.kill('SIGKILL');
  });
}

const users = (members: PresenceMember[]) => members.map((m) => `${m.userId}×${m.connections}`);

describe('presence of a relay that stopped refreshing', () => {
  it('ages out of every list within the TTL, while the live relay\'s entries stay', async () => {
    const channel = 'room:r_presence';
    await live.join(channel, connection('live.1', 'bob'));
    const dead = await startPresenceProcess([
      [channel, 'dead.1', 'alice'],
      [channel, 'dead.2', 'alice'],
      [channel, 'dead.3', 'carol'],
    ]);
    // Outlive a few refresh periods first: refreshed entries must not outlast their relay either.
    await new Promise((r) => setTimeout(r, TTL_MS));
    expect(users(await live.list(channel))).toEqual(['alice×2', 'bob×1', 'carol×1']);

    await kill9(dead);
    const killedAt = Date.now();
    // Ghosts until their last refresh's TTL runs out (at most TTL_MS after the kill)…
    let listed = users(await live.list(channel));
    while (listed.length > 1) {
      expect(Date.now() - killedAt).toBeLessThan(TTL_MS + 1000);
      await new Promise((r) => setTimeout(r, 25));
      listed = users(await live.list(channel));
    }
    // …then only the live relay's user, and it stays across several more TTLs (its relay refreshes it).
    expect(listed).toEqual(['bob×1']);
    const until = Date.now() + 3 * TTL_MS;
    while (Date.now() < until) {
      expect(users(await live.list(channel))).toEqual(['bob×1']);
      await new Promise((r) => setTimeout(r, TTL_MS / 4));
    }
    await live.leave(channel, connection('live.1', 'bob'));
    expect(await live.list(channel)).toEqual([]);
  });

  it('leaves no key behind for a channel only the dead relay held, even if nobody lists it', async () => {
    const channel = 'room:r_orphan';
    const dead = await startPresenceProcess([[channel, 'dead.9', 'dave']]);
    const inspect = new Redis(redis.url);
    try {
      const key = `presence:{${channel}}`;
      expect(await inspect.zcard(key)).toBe(1);
      await kill9(dead);
      const killedAt = Date.now();
      // The key expires 2 × TTL after the last refresh: Redis memory is bounded without a reader.
      while ((await inspect.exists(key)) === 1) {
        expect(Date.now() - killedAt).toBeLessThan(2 * TTL_MS + 1000);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(await live.list(channel)).toEqual([]);
    } finally {
      inspect.disconnect();
    }
  });

  it(`announces every leave of a dead relay holding more than a sweep batch (${SWEEP_BATCH}) on one channel in the same heartbeat`, async () => {
    const channel = 'room:r_crowd';
    const crowd = 2 * SWEEP_BATCH + 50;
    const observer = new RedisBroker({ url: redis.url });
    const leftAt: number[] = [];
    observer.onMessage((_channel, payload) => {
      const envelope = decodeEnvelope(payload);
      if (envelope?.kind === 'presence' && envelope.event === 'leave') leftAt.push(Date.now());
    });
    try {
      await observer.subscribe(channel);
      await live.join(channel, connection('live.crowd', 'bob')); // the live relay holds the channel: it sweeps it
      const dead = await startPresenceProcess(Array.from({ length: crowd }, (_, i) => [channel, `dead.c${i}`, `user${i}`] as [string, string, string]));
      // A heartbeat or more after the joins: the dead relay rewrote all its entries in one run.
      await new Promise((r) => setTimeout(r, TTL_MS));
      await kill9(dead);
      const killedAt = Date.now();
      while (leftAt.length < crowd) {
        expect(Date.now() - killedAt).toBeLessThan(TTL_MS + HEARTBEAT_MS + 2000);
        await new Promise((r) => setTimeout(r, 25));
      }
      // One batch per heartbeat would spread them over two more heartbeats; swept again at once, they come together.
      expect(Math.max(...leftAt) - Math.min(...leftAt)).toBeLessThan(HEARTBEAT_MS);
      expect(users(await live.list(channel))).toEqual(['bob×1']);
    } finally {
      await live.leave(channel, connection('live.crowd', 'bob'));
      await observer.close();
    }
  });
});
