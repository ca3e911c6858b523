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
