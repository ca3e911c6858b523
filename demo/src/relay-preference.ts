/**
 * The SDK starts each client on a random relay of its list (so an app's
 * clients spread out). The demo wants a tab on the relay it chose (`?relay=2`),
 * to show two tabs on two relays, so it wraps the WebSocket constructor the SDK
 * accepts: every connection goes to the preferred relay until that relay fails
 * once (a close other than a normal 1000, or no open at all); from then on the
 * SDK's own failover order over all relays applies. The wrapper also tells
 * which relay the open socket is on, for the sidebar.
 */
export interface RelayPreference {
  WebSocket: typeof WebSocket;
  /** The URL of the relay the last socket opened to (null before the first). */
  current(): string | null;
  /** Calls `listener` whenever a socket opens; returns the function that stops it. */
  onChange(listener: () => void): () => void;
}

export function preferRelay(preferredUrl: string, Base: typeof WebSocket = WebSocket): RelayPreference {
  let preferredFailed = false;
  let current: string | null = null;
  const listeners = new Set<() => void>();

  class PreferredRelayWebSocket extends Base {
    constructor(url: string | URL, protocols?: string | string[]) {
      const target = preferredFailed ? String(url) : preferredUrl;
      super(target, protocols);
      this.addEventListener('open', () => {
        current = target;
        listeners.forEach((listener) => listener());
      });
      if (target === preferredUrl) {
        this.addEventListener('close', (event) => {
          if (event.code !== 1000) preferredFailed = true;
        });
      }
    }
  }

  return {
    WebSocket: PreferredRelayWebSocket,
    current: () => current,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
