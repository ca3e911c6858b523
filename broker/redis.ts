/**
 * Redis pub/sub broker over ioredis. Publishing uses one connection, created
 * on first use (a Lambda container only ever publishes); subscribing uses a
 * second one, because a subscribed connection can issue nothing else.
 * ioredis remembers subscriptions and resubscribes after a reconnect.
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Broker, MessageListener } from './types.js';

export interface RedisBrokerOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Extra ioredis options (TLS, password, timeouts). */
  redis?: RedisOptions;
  /** Called on connection errors and reconnects; they are retried, never thrown. */
  onEvent?: (event: 'error' | 'reconnecting' | 'ready', role: 'publisher' | 'subscriber', detail?: unknown) => void;
}

/** Reconnect quickly at first, then at most every 2 s. */
export const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** attempt, 2000);

/**
 * ioredis is loaded on first use, not at import: a function bundle built for
 * Upstash then drops it entirely (it is about 150 KB minified).
 */
export const loadIoredis = () => import('ioredis');

export class RedisBroker implements Broker {
  private pub: Promise<Redis> | null = null;
  private sub: Promise<Redis> | null = null;
  private subStatus = () => 'wait';
  /** Every connection made, ready or not: close() must not wait for a Redis that never came. */
  private readonly clients: Redis[] = [];
  private listener: MessageListener | null = null;

  constructor(private readonly options: RedisBrokerOptions) {}

  async publish(channel: string, payload: string): Promise<void> {
    await (await this.publisher()).publish(channel, payload);
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
    this.pub = this.sub = null;
    const clients = this.clients.splice(0);
    await Promise.all(
      clients.map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : Promise.resolve(c.disconnect()))),
    );
  }

  private publisher(): Promise<Redis> {
    return (this.pub ??= this.connect('publisher'));
  }

  /**
   * The subscriber, once it is ready: ioredis's ready check (INFO) must not
   * race SUBSCRIBEs queued on a fresh connection, or they fail with
   * "Connection in subscriber mode".
   */
  private subscriber(): Promise<Redis> {
    return (this.sub ??= this.connect('subscriber').then(async (sub) => {
      sub.on('message', (channel: string, payload: string) => this.listener?.(channel, payload));
      this.subStatus = () => sub.status;
      if (sub.status !== 'ready') await new Promise<void>((resolve) => sub.once('ready', () => resolve()));
      return sub;
    }));
  }

  private async connect(role: 'publisher' | 'subscriber'): Promise<Redis> {
    const { Redis } = await loadIoredis();
    const client = new Redis(this.options.url, {
      retryStrategy,
      // A publisher fails fast (the write is already stored); a subscriber waits for Redis.
      maxRetriesPerRequest: role === 'publisher' ? 2 : null,
      enableAutoPipelining: role === 'publisher',
      ...this.options.redis,
    });
    client.on('error', (err) => this.options.onEvent?.('error', role, err));
    client.on('reconnecting', () => this.options.onEvent?.('reconnecting', role));
    client.on('ready', () => this.options.onEvent?.('ready', role));
    this.clients.push(client);
    return client;
  }
}
