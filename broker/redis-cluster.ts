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
import { ioredisGate, type FailFastGate } from './fail-fast.js';
import { shardHealthProbe, type ShardHealthProbe } from './ioredis-shards.js';
import { LifecycleTracker } from './lifecycle.js';
import { clusterSettings, loadIoredis, type RedisConnection } from './redis-connection.js';
import type { Broker, BrokerLifecycleListener, MessageListener } from './types.js';
import type { RedisBrokerOptions } from './redis.js';

export interface RedisClusterBrokerOptions {
  /** `redis://` or `rediss://` URL of any seed node, or the ElastiCache configuration endpoint. */
  url: string;
  /** Overrides any password in the URL (e.g. an ElastiCache AUTH token). */
  password?: string;
  /** Extra ioredis Cluster options (`redisOptions` are merged over the URL's). */
  redis?: ClusterOptions;
  /** Every connection error, reconnect and ready, for logs; they are retried, never thrown. */
  onEvent?: RedisBrokerOptions['onEvent'];
  /** Once per outage of the subscribing side (any started shard): down, up, resubscribed. */
  onLifecycle?: BrokerLifecycleListener;
  /** Told once if ioredis's private shard state is not where 5.11 keeps it. @default console.error */
  onInternalsChanged?: (problem: string) => void;
  /** As RedisBrokerOptions.failFast (give `redisOptions.commandTimeout`). @default false */
  failFast?: boolean;
}

type Role = 'publisher' | 'subscriber';

export class RedisClusterBroker implements Broker {
  private pub: Promise<Cluster> | null = null;
  private pubGate: FailFastGate | null = null;
  private sub: Promise<Cluster> | null = null;
  /** The resolved subscriber, for the synchronous health check. */
  private subClient: Cluster | null = null;
  private shards: ShardHealthProbe | null = null;
  private listener: MessageListener | null = null;
  private readonly lifecycle: LifecycleTracker;
  private closing = false;

  constructor(private readonly options: RedisClusterBrokerOptions) {
    this.lifecycle = new LifecycleTracker(options.onLifecycle);
  }

  /** Where this broker connects: other Redis clients of the process (presence) connect alike. */
  get connection(): RedisConnection {
    return { url: this.options.url, ...(this.options.password && { password: this.options.password }), cluster: true };
  }
  async publish(channel: string, payload: string): Promise<void> {
    const client = await this.publisher();
    await (this.pubGate ? this.pubGate.run(() => client.spublish(channel, payload)) : client.spublish(channel, payload));
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
    return this.shards?.healthy() ?? true;
  }

  async close(): Promise<void> {
    this.closing = true;
    // quit() also drops the shard connections, so the shards forget our subscriptions.
    const clients = await Promise.all([this.pub, this.sub]);
    this.pub = this.sub = null;
    this.subClient = null;
    await Promise.all(clients.map((c) => c?.quit().catch(() => c.disconnect())));
  }

  private publisher(): Promise<Cluster> {
    return (this.pub ??= this.connect('publisher').then((client) => {
      if (this.options.failFast) this.pubGate = ioredisGate(client, 'The Redis Cluster publisher connection');
      return client;
    }));
  }

  private subscriber(): Promise<Cluster> {
    return (this.sub ??= this.connect('subscriber').then((sub) => this.watch(sub)));
  }

  /** Routes sharded messages to the listener and reports shard outages. */
  private watch(sub: Cluster): Cluster {
    this.subClient = sub;
    this.shards = shardHealthProbe(sub, this.options.onInternalsChanged ?? ((problem) => console.error(problem)));
    sub.on('smessage', (channel: string, payload: string) => this.listener?.(channel, payload));
    // A shard connection ended: ioredis refreshes slots and replaces it, resubscribing. A shard
    // dropped on purpose (the topology changed) has already left the group, so stays healthy.
    sub.on('-node', (_redis: unknown, nodeKey?: string) => {
      if (!nodeKey) return;
      this.options.onEvent?.('reconnecting', 'subscriber', nodeKey);
      if (!this.closing && !this.healthy) this.lifecycle.lost();
    });
    sub.on('close', () => {
      if (!this.closing) this.lifecycle.lost();
    });
    // Sent after the group reconnected its shards and re-sent every SSUBSCRIBE; each shard's
    // connection answers them before anything published later on it.
    sub.on('subscribersReady', () => {
      if (!this.healthy) return;
      this.options.onEvent?.('ready', 'subscriber');
      this.lifecycle.connected();
      this.lifecycle.restored();
    });
    return sub;
  }

  private async connect(role: Role): Promise<Cluster> {
    const { Cluster } = await loadIoredis();
    const { redisOptions, ...rest } = this.options.redis ?? {};
    const { seed, options } = clusterSettings(this.connection, {
      maxRetriesPerRequest: role === 'publisher' ? 2 : null,
      ...redisOptions,
    });
    const client = new Cluster([seed], {
      ...options,
      enableAutoPipelining: role === 'publisher',
      shardedSubscribers: role === 'subscriber',
      ...rest,
    });
    // Errors include shard-subscriber reconnect failures, which ioredis retries itself.
    client.on('error', (err) => this.options.onEvent?.('error', role, err));
    client.on('node error', (err) => this.options.onEvent?.('error', role, err));
    client.on('reconnecting', () => this.options.onEvent?.('reconnecting', role));
    client.on('ready', () => this.options.onEvent?.('ready', role));
    return client;
  }
}
