/**
 * Redis pub/sub broker over ioredis. Publishing uses one connection, created
 * on first use (a Lambda container only ever publishes); subscribing uses a
 * second one, because a subscribed connection can issue nothing else.
 * ioredis remembers subscriptions and resubscribes after a reconnect; the
 * broker reports that as lifecycle events (down, up, resubscribed).
 */
import type { Redis, RedisOptions } from 'ioredis';
import { ioredisGate, type FailFastGate } from './fail-fast.js';
import { LifecycleTracker } from './lifecycle.js';
import { loadIoredis, standaloneOptions, type RedisConnection } from './redis-connection.js';
import type { Broker, BrokerLifecycleListener, MessageListener } from './types.js';

export { loadIoredis, retryStrategy } from './redis-connection.js';

export interface RedisBrokerOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Overrides any password in the URL (e.g. an ElastiCache AUTH token). */
  password?: string;
  /** Extra ioredis options (timeouts; a `password` here works too). */
  redis?: RedisOptions;
  /** Every connection error, reconnect attempt and ready, for logs; they are retried, never thrown. */
  onEvent?: (event: 'error' | 'reconnecting' | 'ready', role: 'publisher' | 'subscriber', detail?: unknown) => void;
  /** Once per outage of the subscribing side: down, up, resubscribed (see BrokerLifecycleEvent). */
  onLifecycle?: BrokerLifecycleListener;
  /**
   * Refuse publishes at once (PublisherUnavailableError) while the publishing
   * connection is known to be down, instead of queueing them for the
   * reconnect (broker/fail-fast.ts). For callers that answer without the
   * publish (the functions); give `commandTimeout` so a silent server is noticed.
   * @default false
   */
  failFast?: boolean;
}

export class RedisBroker implements Broker {
  private pub: Promise<{ client: Redis; gate: FailFastGate | null }> | null = null;
  private sub: Promise<Redis> | null = null;
  private subStatus = () => 'wait';
  /** Every connection made, ready or not: close() must not wait for a Redis that never came. */
  private readonly clients: Redis[] = [];
  private listener: MessageListener | null = null;
  private readonly lifecycle: LifecycleTracker;
  private closing = false;

  constructor(private readonly options: RedisBrokerOptions) {
    this.lifecycle = new LifecycleTracker(options.onLifecycle);
  }

  /** Where this broker connects: other Redis clients of the process (presence) connect alike. */
  get connection(): RedisConnection {
    const password = this.options.password ?? this.options.redis?.password;
    return { url: this.options.url, ...(password && { password }), cluster: false };
  }

  async publish(channel: string, payload: string): Promise<void> {
    const { client, gate } = await this.publisher();
    await (gate ? gate.run(() => client.publish(channel, payload)) : client.publish(channel, payload));
  }

  async subscribe(channel: string): Promise<void> {
    await (await this.subscriber()).subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.sub) await (await this.sub).unsubscribe(channel);
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  /** Connects the subscriber now (a relay does so at start) and resolves once it is ready. */
  async ready(): Promise<void> {
    await this.subscriber();
  }

  /** Whether the subscribing connection is currently usable (true before it is first needed). */
  get healthy(): boolean {
    return this.sub === null || this.subStatus() === 'ready';
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pub = this.sub = null;
    const clients = this.clients.splice(0);
    await Promise.all(
      clients.map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : Promise.resolve(c.disconnect()))),
    );
  }

  private publisher(): Promise<{ client: Redis; gate: FailFastGate | null }> {
    return (this.pub ??= this.connect('publisher').then((client) => ({
      client,
      gate: this.options.failFast ? ioredisGate(client, 'The Redis publisher connection') : null,
    })));
  }

  /**
   * The subscriber, once it is ready: ioredis's ready check (INFO) must not
   * race SUBSCRIBEs queued on a fresh connection, or they fail with
   * "Connection in subscriber mode".
   */
  private subscriber(): Promise<Redis> {
    return (this.sub ??= this.connect('subscriber').then(async (sub) => {
      sub.on('message', (channel: string, payload: string) => this.listener?.(channel, payload));
      this.watch(sub);
      this.subStatus = () => sub.status;
      if (sub.status !== 'ready') await new Promise<void>((resolve) => sub.once('ready', () => resolve()));
      return sub;
    }));
  }

  /** Reports the subscriber's outages as lifecycle events. */
  private watch(sub: Redis): void {
    sub.on('close', () => {
      if (!this.closing) this.lifecycle.lost();
    });
    sub.on('ready', () => {
      this.lifecycle.connected();
      // ioredis queues the resubscribes right after emitting 'ready' (same tick); a PING
      // queued after them is answered after their replies, so it marks them done.
      setImmediate(() => {
        if (this.closing || sub.status !== 'ready') return;
        sub.ping().then(
          () => this.lifecycle.restored(),
          () => {}, // the connection dropped again: its 'close' reports that
        );
      });
    });
  }

  private async connect(role: 'publisher' | 'subscriber'): Promise<Redis> {
    const { Redis } = await loadIoredis();
    const client = new Redis(
      this.options.url,
      standaloneOptions(this.connection, {
        // A publisher fails fast (the write is already stored); a subscriber waits for Redis.
        maxRetriesPerRequest: role === 'publisher' ? 2 : null,
        enableAutoPipelining: role === 'publisher',
        ...this.options.redis,
      }),
    );
    client.on('error', (err) => this.options.onEvent?.('error', role, err));
    client.on('reconnecting', () => this.options.onEvent?.('reconnecting', role));
    client.on('ready', () => this.options.onEvent?.('ready', role));
    this.clients.push(client);
    return client;
  }
}
