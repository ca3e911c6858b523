/**
 * Redis pub/sub broker over ioredis. Publishing uses one connection, created
 * on first use (a Lambda container only ever publishes); subscribing uses a
 * second one, because a subscribed connection can issue nothing else.
 * ioredis remembers subscriptions and resubscribes after a reconnect.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Broker, MessageListener } from './types.js';

export interface RedisBrokerOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Extra ioredis options (TLS, timeouts). */
  redis?: RedisOptions;
  /** Called on connection errors and reconnects; they are retried, never thrown. */
  onEvent?: (event: 'error' | 'reconnecting' | 'ready', role: 'publisher' | 'subscriber', detail?: unknown) => void;
}

/** Reconnect quickly at first, then at most every 2 s. */
const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** attempt, 2000);

export class RedisBroker implements Broker {
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  private listener: MessageListener | null = null;

  constructor(private readonly options: RedisBrokerOptions) {}

  async publish(channel: string, payload: string): Promise<void> {
    await this.publisher().publish(channel, payload);
  }

  async subscribe(channel: string): Promise<void> {
    await this.subscriber().subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.sub) await this.sub.unsubscribe(channel);
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  /** Resolves once the subscriber connection is ready (for health checks and start-up). */
  async ready(): Promise<void> {
    const sub = this.subscriber();
    if (sub.status === 'ready') return;
    await new Promise<void>((resolve) => sub.once('ready', () => resolve()));
  }

  /** Whether the subscribing connection is currently usable. */
  get healthy(): boolean {
    return this.sub === null || this.sub.status === 'ready';
  }

  async close(): Promise<void> {
    await Promise.all([this.pub, this.sub].map((c) => c?.quit().catch(() => c.disconnect())));
    this.pub = this.sub = null;
  }

  private publisher(): Redis {
    return (this.pub ??= this.connect('publisher'));
  }

  private subscriber(): Redis {
    if (this.sub) return this.sub;
    const sub = this.connect('subscriber');
    sub.on('message', (channel: string, payload: string) => this.listener?.(channel, payload));
    return (this.sub = sub);
  }

  private connect(role: 'publisher' | 'subscriber'): Redis {
    const client = new Redis(this.options.url, {
      retryStrategy,
      maxRetriesPerRequest: role === 'publisher' ? 2 : null,
      enableAutoPipelining: role === 'publisher',
      ...this.options.redis,
    });
    client.on('error', (err) => this.options.onEvent?.('error', role, err));
    client.on('reconnecting', () => this.options.onEvent?.('reconnecting', role));
    client.on('ready', () => this.options.onEvent?.('ready', role));
    return client;
  }
}
