/**
 * Redis Cluster (ElastiCache cluster mode) broker over sharded pub/sub:
 * SPUBLISH/SSUBSCRIBE are served by the shard owning the channel's hash slot,
 * so pub/sub load spreads over shards instead of every message being broadcast
 * over the cluster bus to every node (as classic PUBLISH is).
 *
 * As in RedisBroker, the publishing client is created on first publish (a
 * Lambda only publishes) and the subscribing one on first subscribe. With
 * `shardedSubscribers`, ioredis keeps one subscriber connection per shard,
 * remembers every sharded subscription and, when a shard connection drops,
 * refreshes the slot map, reconnects and resubscribes by itself.
 * ioredis is imported on first use, as in RedisBroker, so bundles that never
 * connect to Redis can leave it out.
 */
import type { Cluster, ClusterOptions } from 'ioredis';
import type { Broker, MessageListener } from './types.js';
import type { RedisBrokerOptions } from './redis.js';

export interface RedisClusterBrokerOptions {
  /** `redis://` or `rediss://` URL of any seed node, or the ElastiCache configuration endpoint. */
  url: string;
  /** Overrides any password in the URL (e.g. an ElastiCache AUTH token). */
  password?: string;
  /** Extra ioredis Cluster options (`redisOptions` are merged over the URL's). */
  redis?: ClusterOptions;
  /** Called on connection errors and reconnects; they are retried, never thrown. */
  onEvent?: RedisBrokerOptions['onEvent'];
}

type Role = 'publisher' | 'subscriber';

/** The slice of ioredis's private sharded-subscriber group that health needs (no public API exposes it). */
interface ShardedInternals {
  shardedSubscribers?: { shardedSubscribers?: Map<string, { subscriberStatus: string; getInstance(): { status: string } | null }> };
}

export class RedisClusterBroker implements Broker {
  private pub: Promise<Cluster> | null = null;
  private sub: Promise<Cluster> | null = null;
  /** The resolved subscriber, for the synchronous health check. */
  private subClient: Cluster | null = null;
  private listener: MessageListener | null = null;

  constructor(private readonly options: RedisClusterBrokerOptions) {}

  async publish(channel: string, payload: string): Promise<void> {
    await (await this.publisher()).spublish(channel, payload);
  }

  async subscribe(channel: string): Promise<void> {
    await (await this.subscriber()).ssubscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.sub) await (await this.sub).sunsubscribe(channel);
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  /** Resolves once the subscribing client has the cluster's slot map (for health checks and start-up). */
  async ready(): Promise<void> {
    const sub = await this.subscriber();
    if (sub.status === 'ready') return;
    await new Promise<void>((resolve) => sub.once('ready', () => resolve()));
  }

  /**
   * Whether the subscribing side is usable: the cluster client is ready and every
   * started shard connection is too. Shards with no subscribed channels never
   * connect (stay idle), so they cannot make the broker unhealthy.
   */
  get healthy(): boolean {
    if (this.sub === null) return true;
    if (this.subClient?.status !== 'ready') return false;
    const shards = (this.subClient as unknown as ShardedInternals).shardedSubscribers?.shardedSubscribers;
    return [...(shards?.values() ?? [])].every((s) => s.subscriberStatus === 'idle' || s.getInstance()?.status === 'ready');
  }

  async close(): Promise<void> {
    // quit() also drops the shard connections, so the shards forget our subscriptions.
    const clients = await Promise.all([this.pub, this.sub]);
    this.pub = this.sub = null;
    this.subClient = null;
    await Promise.all(clients.map((c) => c?.quit().catch(() => c.disconnect())));
  }

  private publisher(): Promise<Cluster> {
    return (this.pub ??= this.connect('publisher'));
  }

  private subscriber(): Promise<Cluster> {
    return (this.sub ??= this.connect('subscriber').then((sub) => this.watch(sub)));
  }

  /** Routes sharded messages to the listener and reports shard reconnects. */
  private watch(sub: Cluster): Cluster {
    sub.on('smessage', (channel: string, payload: string) => this.listener?.(channel, payload));
    // A shard connection ended: ioredis refreshes slots and replaces it, resubscribing.
    sub.on('-node', (_redis: unknown, nodeKey?: string) => nodeKey && this.options.onEvent?.('reconnecting', 'subscriber', nodeKey));
    sub.on('subscribersReady', () => this.healthy && this.options.onEvent?.('ready', 'subscriber'));
    return (this.subClient = sub);
  }

  private async connect(role: Role): Promise<Cluster> {
    const { Cluster } = await import('ioredis');
    const url = new URL(this.options.url);
    const tls = url.protocol === 'rediss:';
    const { redisOptions, ...rest } = this.options.redis ?? {};
    const client = new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
      clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
      enableAutoPipelining: role === 'publisher',
      shardedSubscribers: role === 'subscriber',
      // ElastiCache with TLS: keep node hostnames (don't resolve them to IPs) so certificates verify.
      ...(tls && { dnsLookup: (address: string, cb: (err: null, address: string) => void) => cb(null, address) }),
      ...rest,
      redisOptions: {
        username: decodeURIComponent(url.username) || undefined,
        password: this.options.password ?? (decodeURIComponent(url.password) || undefined),
        maxRetriesPerRequest: role === 'publisher' ? 2 : null,
        ...(tls && { tls: {} }),
        ...redisOptions,
      },
    });
    // Errors include shard-subscriber reconnect failures, which ioredis retries itself.
    client.on('error', (err) => this.options.onEvent?.('error', role, err));
    client.on('node error', (err) => this.options.onEvent?.('error', role, err));
    client.on('reconnecting', () => this.options.onEvent?.('reconnecting', role));
    client.on('ready', () => this.options.onEvent?.('ready', role));
    return client;
  }
}
