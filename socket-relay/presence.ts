/**
 * Who is present on a channel, across the relay fleet, and the join/leave
 * events that announce changes. With Redis, each (user, connection) is an
 * entry in a sorted set scored by its expiry, and a hash counts each user's
 * entries: a user is present once however many tabs and relays they use.
 * Every change runs in one Lua script (presence-scripts.ts) that also
 * publishes the event, so events are exact under races between relays.
 *
 * The owning relay rewrites its entries every heartbeat (presence-heartbeat.ts
 * spreads the channels over the interval); the same script run sweeps expired
 * entries, so a relay that dies stops rewriting and a live one holding the
 * channel removes its entries and announces the leaves (bound:
 * presence-rules.ts). Keys live two TTLs past the last write, so channels no
 * live relay holds any more vanish from Redis on their own. A channel's runs
 * go out one at a time (presence-queue.ts), so they apply in order.
 */
import type { Cluster, Redis, Result } from 'ioredis';
import type { Logger } from 'pino';
import { connectCommandClient, type RedisConnection } from '../broker/redis-connection.js';
import type { Connection } from './connection.js';
import { HeartbeatWheel } from './presence-heartbeat.js';
import { PresenceQueue, type UpdateOp } from './presence-queue.js';
import { DEFAULT_PRESENCE_EVENT_LIMIT, hasPresence, PRESENCE_HEARTBEAT_MS, PRESENCE_TTL_MS } from './presence-rules.js';
import { ENTRY_SEPARATOR, SNAPSHOT_LUA, UPDATE_LUA, updateCounts, type UpdateCounts } from './presence-scripts.js';

export interface PresenceMember {
  userId: string;
  /** The user's connections on the channel (entries not yet expired or swept). */
  connections: number;
}

export interface PresenceSnapshot {
  /** Sorted by userId; every member, or above the event limit that many picked at random. */
  members: PresenceMember[];
  /** Every present user. */
  total: number;
}

export interface Presence {
  /** Records `connection` on a presence channel (others are ignored); announces the user's first. Best-effort. */
  join(channel: string, connection: Connection): Promise<void>;
  /** Removes it; announces the user's last. Best-effort. */
  leave(channel: string, connection: Connection): Promise<void>;
  /** Who is present; throws when the store cannot answer. */
  snapshot(channel: string): Promise<PresenceSnapshot>;
  close(): Promise<void>;
}

export type PresenceOp = 'join' | 'leave' | 'list' | 'refresh' | 'connection';
export type PresenceCounts = Omit<UpdateCounts, 'more'>;

export interface RedisPresenceOptions {
  /** The broker's connection settings (URL, TLS, password, cluster): presence connects alike. */
  connection: RedisConnection;
  logger: Logger;
  /** Counts each failed presence operation (the relay's `relay_presence_errors_total`). */
  onError?: (op: PresenceOp) => void;
  /** What each script run announced, suppressed, swept and repaired (the relay's presence metrics). */
  onCounts?: (counts: PresenceCounts) => void;
  /** A channel's heartbeat turn skipped because its previous one was still running (Redis slow). */
  onHeartbeatSkipped?: (channel: string) => void;
  /** How long an entry lives without a rewrite. @default PRESENCE_TTL_MS (15 s) */
  ttlMs?: number;
  /** How often this relay rewrites its entries and sweeps expired ones. @default PRESENCE_HEARTBEAT_MS, or ttl/3 with a custom TTL */
  heartbeatMs?: number;
  /** Present users above which no join/leave is published; the same on every relay. @default 500 */
  eventLimit?: number;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    presenceUpdate(entriesKey: string, usersKey: string, ...args: Array<string | number>): Result<unknown, Context>;
    presenceSnapshot(usersKey: string, limit: number): Result<unknown, Context>;
  }
}

/** Redis Cluster: both keys of a channel live on the shard owning its `{channel}` hash tag. */
const entriesKey = (channel: string) => `presence:{${channel}}`;
const usersKey = (channel: string) => `presence:{${channel}}:users`;
const entryOf = (connection: Connection) => `${connection.userId}${ENTRY_SEPARATOR}${connection.id}`;
/** Entries per script run: one run blocks Redis for its duration. */
const ENTRIES_PER_RUN = 500;
/** Sweep-only runs in a row after a full sweep batch (PresenceQueueOptions.maxSweepRuns). */
const MAX_SWEEP_RUNS = 100;

export class RedisPresence implements Presence {
  private readonly redis: Promise<Redis | Cluster>;
  private readonly ttlMs: number;
  private readonly eventLimit: number;
  private readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  /** This relay's entries (`userId\nconnectionId`) per channel, rewritten every heartbeat. */
  private readonly local = new Map<string, Set<string>>();
  private readonly queue: PresenceQueue;
  private readonly heartbeats: HeartbeatWheel;
  /** Set after a failure is logged: further ones go to debug until an operation succeeds. */
  private failing = false;

  constructor(private readonly options: RedisPresenceOptions) {
    this.ttlMs = options.ttlMs ?? PRESENCE_TTL_MS;
    this.eventLimit = options.eventLimit ?? DEFAULT_PRESENCE_EVENT_LIMIT;
    // The relays subscribe with SSUBSCRIBE on a cluster (broker/redis-cluster.ts).
    this.publishCommand = options.connection.cluster ? 'SPUBLISH' : 'PUBLISH';
    this.redis = connectCommandClient(options.connection, { maxRetriesPerRequest: 1 }).then((redis) => {
      redis.on('error', (err: unknown) => this.failed('connection', err));
      // EVALSHA; ioredis sends EVAL instead on a new socket and after a NOSCRIPT reply.
      redis.defineCommand('presenceUpdate', { numberOfKeys: 2, lua: UPDATE_LUA });
      redis.defineCommand('presenceSnapshot', { numberOfKeys: 1, lua: SNAPSHOT_LUA });
      return redis;
    });
    this.queue = new PresenceQueue((channel, op, entries) => this.update(channel, op, entries), {
      entriesPerRun: ENTRIES_PER_RUN,
      maxSweepRuns: MAX_SWEEP_RUNS,
    });
    const heartbeatMs = options.heartbeatMs ?? (options.ttlMs === undefined ? PRESENCE_HEARTBEAT_MS : this.ttlMs / 3);
    this.heartbeats = new HeartbeatWheel(heartbeatMs, (channel) => this.run('refresh', () => this.refresh(channel)), options.onHeartbeatSkipped);
  }

  /**
   * Join and leave are best-effort (a lost entry ages out, a missing one comes
   * back with the next heartbeat): failures are counted and logged, not thrown.
   */
  async join(channel: string, connection: Connection): Promise<void> {
    if (!hasPresence(channel)) return;
    const entry = entryOf(connection);
    let set = this.local.get(channel);
    if (!set) {
      this.local.set(channel, (set = new Set()));
      this.heartbeats.add(channel);
    }
    set.add(entry);
    await this.run('join', () => this.queue.update(channel, 'add', [entry]));
  }

  async leave(channel: string, connection: Connection): Promise<void> {
    const entry = entryOf(connection);
    const set = this.local.get(channel);
    if (!set?.delete(entry)) return;
    if (set.size === 0) {
      this.local.delete(channel);
      this.heartbeats.delete(channel);
    }
    await this.run('leave', () => this.queue.update(channel, 'remove', [entry]));
  }

  /** Throws when Redis cannot answer (the caller tells the client to retry); counted and logged too. */
  async snapshot(channel: string): Promise<PresenceSnapshot> {
    try {
      const reply = await (await this.redis).presenceSnapshot(usersKey(channel), this.eventLimit);
      this.failing = false;
      return parseSnapshot(reply);
    } catch (err) {
      this.failed('list', err);
      throw err;
    }
  }

  async list(channel: string): Promise<PresenceMember[]> {
    return (await this.snapshot(channel)).members;
  }

  /**
   * Writes this relay's entries again now, rather than at the next heartbeat:
   * after a Redis outage (the broker's `resubscribed`) a restarted or
   * failed-over Redis may have lost them (their joins are announced again).
   */
  async restore(): Promise<void> {
    await Promise.all([...this.local.keys()].map((channel) => this.run('refresh', () => this.refresh(channel))));
  }

  /** Removes this relay's remaining entries (announcing the leaves), then disconnects. */
  async close(): Promise<void> {
    this.heartbeats.stop();
    const remaining = [...this.local].map(([channel, entries]): [string, string[]] => [channel, [...entries]]);
    this.local.clear();
    await Promise.all(remaining.map(([channel, entries]) => this.run('leave', () => this.queue.update(channel, 'remove', entries))));
    const redis = await this.redis;
    await redis.quit().catch(() => redis.disconnect());
  }

  private async run(op: PresenceOp, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
      this.failing = false;
    } catch (err) {
      this.failed(op, err);
    }
  }

  /** Counts every failure; logs the first of a run at warn, the rest at debug (an outage fails every join). */
  private failed(op: PresenceOp, err: unknown): void {
    this.options.onError?.(op);
    const level = this.failing ? 'debug' : 'warn';
    this.failing = true;
    this.options.logger[level]({ err, op }, 'presence: Redis operation failed (entries may be missing until it recovers)');
  }

  /**
   * Rewrites this relay's entries of `channel` (sweeping it on the way). They
   * are queued in one synchronous step with the channel's other changes: a
   * leave after this point goes after them, so a rewrite never brings back an
   * entry that left.
   */
  private async refresh(channel: string): Promise<void> {
    const entries = this.local.get(channel);
    if (entries) await this.queue.update(channel, 'add', [...entries]);
  }

  private async update(channel: string, op: UpdateOp, entries: string[]): Promise<UpdateCounts> {
    const redis = await this.redis;
    const reply = await redis.presenceUpdate(entriesKey(channel), usersKey(channel), channel, this.publishCommand, this.eventLimit, this.ttlMs, op, ...entries);
    const counts = updateCounts(reply);
    this.options.onCounts?.(counts);
    return counts;
  }
}

/** The snapshot script's reply `[total, [userId, entries, …]]`, sorted by userId. */
function parseSnapshot(reply: unknown): PresenceSnapshot {
  const [total, flat] = Array.isArray(reply) ? reply : [];
  const pairs = Array.isArray(flat) ? flat : [];
  const members: PresenceMember[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const connections = Number(pairs[i + 1]);
    if (connections > 0) members.push({ userId: String(pairs[i]), connections });
  }
  members.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  return { members, total: typeof total === 'number' ? total : members.length };
}
