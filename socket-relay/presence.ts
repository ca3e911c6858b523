/**
 * Who is present on a channel, across the relay fleet. Presence is
 * ephemeral: with Redis, each (user, connection) is a sorted-set member whose
 * score is its expiry; the owning relay refreshes its entries, so a relay
 * that dies simply stops refreshing and its entries age out.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { connectCommandClient, type RedisConnection } from '../broker/redis-connection.js';
import type { Connection } from './connection.js';

export interface PresenceMember {
  userId: string;
  connections: number;
}

export interface Presence {
  join(channel: string, connection: Connection): Promise<void>;
  leave(channel: string, connection: Connection): Promise<void>;
  list(channel: string): Promise<PresenceMember[]>;
  close(): Promise<void>;
}

function tally(userIds: Iterable<string>): PresenceMember[] {
  const counts = new Map<string, number>();
  for (const userId of userIds) counts.set(userId, (counts.get(userId) ?? 0) + 1);
  return [...counts].map(([userId, connections]) => ({ userId, connections })).sort((a, b) => a.userId.localeCompare(b.userId));
}

/** Presence within one process (the embedded single-relay mode). */
export class MemoryPresence implements Presence {
  private readonly channels = new Map<string, Set<Connection>>();

  async join(channel: string, connection: Connection): Promise<void> {
    let set = this.channels.get(channel);
    if (!set) this.channels.set(channel, (set = new Set()));
    set.add(connection);
  }

  async leave(channel: string, connection: Connection): Promise<void> {
    const set = this.channels.get(channel);
    set?.delete(connection);
    if (set?.size === 0) this.channels.delete(channel);
  }

  async list(channel: string): Promise<PresenceMember[]> {
    return tally([...(this.channels.get(channel) ?? [])].map((c) => c.userId));
  }

  async close(): Promise<void> {
    this.channels.clear();
  }
}

export interface RedisPresenceOptions {
  /** The broker's connection settings (URL, TLS, password, cluster): presence connects alike. */
  connection: RedisConnection;
  logger: Logger;
  /** Counts each failed presence operation (the relay's `relay_presence_errors_total`). */
  onError?: (op: PresenceOp) => void;
  /** How long an entry lives without a refresh. @default 60000 */
  ttlMs?: number;
}

export type PresenceOp = 'join' | 'leave' | 'list' | 'refresh' | 'connection';

const SEPARATOR = '\n';
/** Redis Cluster: each channel's set lives on the shard owning its `{channel}` hash tag. */
const key = (channel: string) => `presence:{${channel}}`;

export class RedisPresence implements Presence {
  private readonly redis: Promise<Redis | Cluster>;
  private readonly ttlMs: number;
  /** This relay's entries, refreshed every ttl/3. */
  private readonly local = new Map<string, Set<Connection>>();
  private readonly timer: NodeJS.Timeout;
  /** Set after a failure is logged: further ones go to debug until an operation succeeds. */
  private failing = false;

  constructor(private readonly options: RedisPresenceOptions) {
    this.redis = connectCommandClient(options.connection, { maxRetriesPerRequest: 1 }).then((redis) => {
      redis.on('error', (err: unknown) => this.failed('connection', err));
      return redis;
    });
    this.ttlMs = options.ttlMs ?? 60_000;
    this.timer = setInterval(() => void this.run('refresh', () => this.refresh()), this.ttlMs / 3);
    this.timer.unref();
  }

  /**
   * Join and leave are best-effort (a lost entry ages out, a missing one comes
   * back with the next refresh): failures are counted and logged, not thrown.
   */
  async join(channel: string, connection: Connection): Promise<void> {
    let set = this.local.get(channel);
    if (!set) this.local.set(channel, (set = new Set()));
    set.add(connection);
    await this.run('join', async (redis) => {
      execOrThrow(await redis.multi().zadd(key(channel), Date.now() + this.ttlMs, member(connection)).pexpire(key(channel), this.ttlMs * 2).exec());
    });
  }

  async leave(channel: string, connection: Connection): Promise<void> {
    const set = this.local.get(channel);
    set?.delete(connection);
    if (set?.size === 0) this.local.delete(channel);
    await this.run('leave', (redis) => redis.zrem(key(channel), member(connection)));
  }

  /** Throws when Redis cannot answer (the caller tells the client to retry); counted and logged too. */
  async list(channel: string): Promise<PresenceMember[]> {
    const now = Date.now();
    try {
      const redis = await this.redis;
      const [, live] = await Promise.all([
        redis.zremrangebyscore(key(channel), '-inf', now),
        redis.zrangebyscore(key(channel), now, '+inf'),
      ]);
      this.failing = false;
      return tally(live.map((m) => m.slice(0, m.indexOf(SEPARATOR))));
    } catch (err) {
      this.failed('list', err);
      throw err;
    }
  }

  /**
   * Writes this relay's entries again now, rather than at the next refresh: after a
   * Redis outage (the broker's `resubscribed`) a restarted or failed-over Redis may
   * have lost them.
   */
  restore(): Promise<void> {
    return this.run('refresh', () => this.refresh());
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const redis = await this.redis;
    await redis.quit().catch(() => redis.disconnect());
  }

  private async run(op: PresenceOp, work: (redis: Redis | Cluster) => Promise<unknown>): Promise<void> {
    try {
      await work(await this.redis);
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

  private async refresh(): Promise<void> {
    if (this.local.size === 0) return;
    const redis = await this.redis;
    const expiry = Date.now() + this.ttlMs;
    // One transaction per channel: its keys share a slot, which Redis Cluster requires.
    await Promise.all(
      [...this.local].map(async ([channel, connections]) =>
        execOrThrow(
          await redis
            .multi()
            .zadd(key(channel), ...[...connections].flatMap((c) => [expiry, member(c)]))
            .pexpire(key(channel), this.ttlMs * 2)
            .exec(),
        ),
      ),
    );
  }
}

/** A transaction's replies carry each command's error instead of rejecting: surface the first. */
function execOrThrow(replies: [Error | null, unknown][] | null): void {
  if (replies === null) throw new Error('presence transaction was discarded');
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

const member = (connection: Connection) => `${connection.userId}${SEPARATOR}${connection.id}`;
