/**
 * Turns a broker's connection churn (errors, retries, readies: many per outage)
 * into the lifecycle its users act on: one `down`, then `up`, then
 * `resubscribed` (broker/types.ts). Shared by the Redis and Redis Cluster brokers.
 */
import type { BrokerLifecycleEvent, BrokerLifecycleListener } from './types.js';

export class LifecycleTracker {
  /** `starting` until the first connect: a first connect is no recovery. */
  private state: 'starting' | 'up' | 'down' | 'restoring' = 'starting';

  constructor(private readonly listener: BrokerLifecycleListener = () => {}) {}

  /** Delivery stopped (connection lost, or the first connect failed). */
  lost(): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.emit('down');
  }

  /** Connected again; subscriptions are being restored. */
  connected(): void {
    if (this.state === 'starting') this.state = 'up';
    else if (this.state === 'down') {
      this.state = 'restoring';
      this.emit('up');
    }
  }

  /** Every remembered subscription is active again. */
  restored(): void {
    if (this.state !== 'restoring') return;
    this.state = 'up';
    this.emit('resubscribed');
  }

  get isDown(): boolean {
    return this.state === 'down';
  }

  private emit(event: BrokerLifecycleEvent): void {
    this.listener(event);
  }
}
