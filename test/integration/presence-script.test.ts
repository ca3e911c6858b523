/**
 * The presence script against what Redis itself may do to it, on a real
 * redis-server: forget the script between two calls of one channel (SCRIPT
 * FLUSH; a failover or script eviction does the same) while another relay
 * loads it again, and evict one key of a channel's pair (a volatile-* policy
 * picks keys with a TTL, and both have one). Events are recorded by a broker
 * subscriber, as a relay receives them.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../broker/redis.js';
import { startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { decodeEnvelope } from '../../protocol/index.js';
import { Connection, type Transport } from '../../socket-relay/connection.js';
import { RedisPresence, type PresenceCounts, type PresenceOp } from '../../socket-relay/presence.js';
import { UPDATE_LUA } from '../../socket-relay/presence-scripts.js';
import { UserBudget } from '../../socket-relay/user-budgets.js';
import { eventually } from '../helpers/redis.js';

const limits = { maxSubscriptions: 10, maxBufferedBytes: 1 << 20, frameRate: 50, frameBurst: 100, maxSignalBytes: 4096 };
const transport: Transport = { send() {}, close() {}, bufferedAmount: 0 };
const connection = (id: string, userId: string) => new Connection(id, userId, transport, limits, new UserBudget({ maxConnections: 10, signalRate: 20, subscribeRate: 50, subscribeBurst: 200 }));
const logger = pino({ level: 'silent' });

/**
 * A TCP proxy in front of Redis whose replies can be held back: a command
 * reaches Redis and runs, and its client sees the reply only on `release`.
 */
interface ReplyHoldingProxy {
  url: string;
  hold(): void;
  release(): void;
  heldBytes(): number;
  close(): Promise<void>;
}

async function replyHoldingProxy(target: RedisProcess): Promise<ReplyHoldingProxy> {
  let holding = false;
  const held: Array<{ to: Socket; chunk: Buffer }> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(target.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => (s === client ? upstream : client).destroy());
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => (holding ? held.push({ to: client, chunk }) : client.write(chunk)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const { to, chunk } of held.splice(0)) to.write(chunk);
    },
    heldBytes: () => held.reduce((n, h) => n + h.chunk.length, 0),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let redis: RedisProcess;
let admin: Redis;
let observer: RedisBroker;
/** Per channel, every presence event in the order published: `join alice`, `reset bob`, … */
const events = new Map<string, string[]>();

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
  observer = new RedisBroker({ url: redis.url });
  observer.onMessage((channel, payload) => {
    const envelope = decodeEnvelope(payload);
    const event = envelope?.kind === 'presence' ? `${envelope.event} ${envelope.userId}` : `invalid ${payload.slice(0, 80)}`;
    events.set(channel, [...(events.get(channel) ?? []), event]);
  });
});
afterAll(async () => {
  admin?.disconnect();
  await observer?.close();
  await redis?.stop();
});

let closers: Array<() => Promise<void>>;
beforeEach(() => {
  closers = [];
});
afterEach(async () => {
  for (const close of closers.reverse()) await close();
});

function presence(url = redis.url): { presence: RedisPresence; errors: PresenceOp[]; counts: PresenceCounts[] } {
  const errors: PresenceOp[] = [];
  const counts: PresenceCounts[] = [];
  const p = new RedisPresence({ connection: { url }, logger, onError: (op) => errors.push(op), onCounts: (c) => counts.push(c) });
  closers.push(() => p.close());
  return { presence: p, errors, counts };
}

const listed = async (p: RedisPresence, channel: string) => (await p.list(channel)).map((m) => `${m.userId}×${m.connections}`);

describe('when Redis forgets the script', () => {
  it('applies a channel’s changes in order even when another relay loads the script between them', async () => {
    const channel = 'room:flushed';
    await observer.subscribe(channel);
    const proxy = await replyHoldingProxy(redis);
    closers.push(() => proxy.close());
    const { presence: relay, errors } = presence(proxy.url);
    await relay.join(channel, connection('w1', 'walter')); // the script is known on this socket from here on
    expect(await admin.script('FLUSH')).toBe('OK');

    proxy.hold();
    const xavier = connection('x1', 'xavier');
    const joining = relay.join(channel, xavier);
    // Redis has answered the add's EVALSHA with NOSCRIPT; the relay has not seen it yet.
    await eventually(() => proxy.heldBytes() > 0, 5000, 'the NOSCRIPT reply');
    await admin.script('LOAD', UPDATE_LUA); // another relay's EVAL would do the same
    const leaving = relay.leave(channel, xavier);
    // Pipelined, the remove would now run (finding nothing) before the add is sent again as EVAL.
    await new Promise((r) => setTimeout(r, 300));
    proxy.release();
    await Promise.all([joining, leaving]);

    await eventually(() => (events.get(channel) ?? []).includes('leave xavier'), 3000, 'xavier to leave');
    expect(events.get(channel)).toEqual(['join walter', 'join xavier', 'leave xavier']);
    expect(await admin.zscore(`presence:{${channel}}`, 'xavier\nx1')).toBeNull();
    expect(await listed(relay, channel)).toEqual(['walter×1']);
    expect(errors).toEqual([]);
  });
});

describe('when one key of a channel’s pair is evicted', () => {
  async function setUp(channel: string) {
    await observer.subscribe(channel);
    const relay = presence();
    const tabs = { a1: connection('a1', 'alice'), a2: connection('a2', 'alice'), b1: connection('b1', 'bob') };
    for (const tab of Object.values(tabs)) await relay.presence.join(channel, tab);
    expect(await listed(relay.presence, channel)).toEqual(['alice×2', 'bob×1']);
    return { ...relay, tabs };
  }

  /** Alice's two tabs leave: one leave, with the second. */
  async function aliceLeaves(relay: RedisPresence, channel: string, tabs: Record<string, Connection>) {
    await relay.leave(channel, tabs.a1!);
    expect(await listed(relay, channel)).toEqual(['alice×1', 'bob×1', 'carol×1']);
    await relay.leave(channel, tabs.a2!);
    await eventually(() => events.get(channel)!.at(-1) === 'leave alice', 3000, 'alice to leave');
    expect(await listed(relay, channel)).toEqual(['bob×1', 'carol×1']);
  }

  it('the counts hash: drops the orphaned entries, tells subscribers to re-snapshot, and counts right once relays write back', async () => {
    const channel = 'room:evicted_counts';
    const { presence: relay, tabs, counts } = await setUp(channel);
    await admin.del(`presence:{${channel}}:users`);

    await relay.join(channel, connection('c1', 'carol')); // the next change repairs first
    expect(counts.reduce((n, c) => n + c.repaired, 0)).toBe(1);
    await relay.restore(); // each relay's next heartbeat writes its entries back
    expect(await listed(relay, channel)).toEqual(['alice×2', 'bob×1', 'carol×1']);
    await aliceLeaves(relay, channel, tabs);
    const seen = events.get(channel)!;
    expect(seen.slice(0, 2)).toEqual(['join alice', 'join bob']);
    expect(seen[2]).toMatch(/^reset (alice|bob)$/);
    expect(seen.slice(3)).toEqual(['join carol', 'join alice', 'join bob', 'leave alice']);
  });

  it('the entries set: drops the stale counts, tells subscribers to re-snapshot, and counts right once relays write back', async () => {
    const channel = 'room:evicted_entries';
    const { presence: relay, tabs, counts } = await setUp(channel);
    await admin.del(`presence:{${channel}}`);

    await relay.restore();
    await relay.join(channel, connection('c1', 'carol'));
    expect(counts.reduce((n, c) => n + c.repaired, 0)).toBe(1);
    expect(await listed(relay, channel)).toEqual(['alice×2', 'bob×1', 'carol×1']);
    await aliceLeaves(relay, channel, tabs);
    const seen = events.get(channel)!;
    expect(seen[2]).toMatch(/^reset (alice|bob)$/);
    expect(seen.slice(0, 2).concat(seen.slice(3))).toEqual(['join alice', 'join bob', 'join alice', 'join bob', 'join carol', 'leave alice']);
  });
});
