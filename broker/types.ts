/**
 * The pub/sub seam. Functions only publish; relays subscribe per channel and
 * receive raw payloads (validated by the relay, not here).
 */
export interface Publisher {
  publish(channel: string, payload: string): Promise<void>;
}

export type MessageListener = (channel: string, payload: string) => void;

export interface Broker extends Publisher {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Registers the single listener for every subscribed channel's messages. */
  onMessage(listener: MessageListener): void;
  close(): Promise<void>;
}

/**
 * What happened to a broker's delivery side (its subscribing connections), once
 * per outage rather than once per retry:
 * - `down`: delivery stopped (a connection the subscriptions live on was lost);
 *   messages published from now on do not reach this broker.
 * - `up`: every connection is back; subscriptions are being restored.
 * - `resubscribed`: every remembered subscription is active again. What was
 *   published between `down` and here is lost to this broker.
 * Each `down` is followed by at most one `up` and one `resubscribed`, in that order.
 */
export type BrokerLifecycleEvent = 'down' | 'up' | 'resubscribed';
export type BrokerLifecycleListener = (event: BrokerLifecycleEvent) => void;
