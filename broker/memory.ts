/**
 * In-process broker: the embedded default when no Redis is configured (like
 * Socket.IO's in-memory adapter). Delivery is asynchronous, as with Redis, so
 * callers never depend on publish re-entering their own stack.
 */
import type { Broker, MessageListener } from './types.js';

type Bus = Map<string, Set<MemoryBroker>>;

export class MemoryBroker implements Broker {
  private listener: MessageListener | null = null;
  private readonly channels = new Set<string>();

  constructor(private readonly bus: Bus = new Map()) {}

  /** A broker sharing this one's bus: how several relays/functions talk inside one process. */
  peer(): MemoryBroker {
    return new MemoryBroker(this.bus);
  }

  async publish(channel: string, payload: string): Promise<void> {
    const subscribers = this.bus.get(channel);
    if (!subscribers) return;
    for (const broker of subscribers) queueMicrotask(() => broker.deliver(channel, payload));
  }

  async subscribe(channel: string): Promise<void> {
    this.channels.add(channel);
    let subscribers = this.bus.get(channel);
    if (!subscribers) this.bus.set(channel, (subscribers = new Set()));
    subscribers.add(this);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
    const subscribers = this.bus.get(channel);
    subscribers?.delete(this);
    if (subscribers?.size === 0) this.bus.delete(channel);
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  /** Number of brokers subscribed to `channel` on this bus (the analogue of `PUBSUB NUMSUB`). */
  subscriberCount(channel: string): number {
    return this.bus.get(channel)?.size ?? 0;
  }

  async close(): Promise<void> {
    for (const channel of [...this.channels]) await this.unsubscribe(channel);
    this.listener = null;
  }

  private deliver(channel: string, payload: string): void {
    if (this.channels.has(channel)) this.listener?.(channel, payload);
  }
}

let processBroker: MemoryBroker | undefined;
/** The process-wide in-memory bus shared by the local stack's functions and relay. */
export function processMemoryBroker(): MemoryBroker {
  return (processBroker ??= new MemoryBroker());
}
