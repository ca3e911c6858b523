/**
 * Who is present on a channel, across the relay fleet. Presence is
 * ephemeral: with Redis, each (user, connection) is a sorted-set member whose
 * score is its expiry; the owning relay refreshes its entries, so a relay
 * that dies simply stops refreshing and its entries age out.
 */
import { Cluster, Redis } from 'ioredis';
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
  url: string;
  password?: string;
  /** Redis Cluster: each channel's set lives on the shard owning its `{channel}` hash tag. */
  cluster?: boolean;
  /** How long an entry lives without a refresh. @default 60000 */
  ttlMs?: number;
}

const SEPARATOR = '\n';
const key = (channel: string) => `presence:{${channel}}`;

export class RedisPresence implements Presence {
  private readonly redis: Redis | Cluster;
  private readonly ttlMs: number;
  /** This relay's entries, refreshed every ttl/3. */
  private readonly local = new Map<string, Set<Connection>>();
  private readonly timer: NodeJS.Timeout;

  constructor(options: RedisPresenceOptions) {
    const tls = options.url.startsWith('rediss://') ? { tls: {} } : {};
    const password = options.password ? { password: options.password } : {};
    if (options.cluster) {
      const { hostname, port } = new URL(options.url);
      this.redis = new Cluster([{ host: hostname, port: Number(port || 6379) }], {
        // ElastiCache's TLS certificates name the configuration endpoint, not node IPs.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: { ...tls, ...password, maxRetriesPerRequest: 1 },
      });
    } else {
      this.redis = new Redis(options.url, { ...password, maxRetriesPerRequest: 1 });
    }
    this.redis.on('error', () => {}); // reported by the broker's connection; presence is best-effort
    this.ttlMs = options.ttlMs ?? 60_000;
    this.timer = setInterval(() => void this.refresh().catch(() => {}), this.ttlMs / 3);
    this.timer.unref();
  }

  async join(channel: string, connection: Connection): Promise<void> {
    let set = this.local.get(channel);
    if (!set) this.local.set(channel, (set = new Set()));
    set.add(connection);
    await this.redis
      .multi()
      .zadd(key(channel), Date.now() + this.ttlMs, member(connection))
      .pexpire(key(channel), this.ttlMs * 2)
      .exec()
      .catch(() => {});
  }

  async leave(channel: string, connection: Connection): Promise<void> {
    const set = this.local.get(channel);
    set?.delete(connection);
    if (set?.size === 0) this.local.delete(channel);
    await this.redis.zrem(key(channel), member(connection)).catch(() => {});
  }

  async list(channel: string): Promise<PresenceMember[]> {
    const now = Date.now();
    const [, live] = await Promise.all([
      this.redis.zremrangebyscore(key(channel), '-inf', now),
      this.redis.zrangebyscore(key(channel), now, '+inf'),
    ]);
    return tally(live.map((m) => m.slice(0, m.indexOf(SEPARATOR))));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async refresh(): Promise<void> {
    const expiry = Date.now() + this.ttlMs;
    // One transaction per channel: its keys share a slot, which Redis Cluster requires.
    await Promise.all(
      [...this.local].map(([channel, connections]) =>
        this.redis
          .multi()
          .zadd(key(channel), ...[...connections].flatMap((c) => [expiry, member(c)]))
          .pexpire(key(channel), this.ttlMs * 2)
          .exec(),
      ),
    );
  }
}

const member = (connection: Connection) => `${connection.userId}${SEPARATOR}${connection.id}`;
