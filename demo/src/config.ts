/**
 * Where the demo's backend is: the local stack's demo server serves
 * `config.json` with the API URL and every relay URL. Each tab picks one relay
 * (`?relay=2`, else at random, then kept for the tab) to prefer, and hands the
 * SDK all of them, so a tab fails over to the others when its relay dies.
 */
export interface DemoConfig {
  apiUrl: string;
  relayUrls: string[];
  /** Whether the server mints dev tokens (only the local stack does). */
  devTokens: boolean;
}

export interface RelayChoice {
  /** 1-based, as the stack numbers its relays. */
  index: number;
  url: string;
}

export async function loadConfig(): Promise<DemoConfig> {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return (await res.json()) as DemoConfig;
}

const RELAY_KEY = 'townsquare.demo.relay';

export function chooseRelay(relayUrls: string[], search = location.search): RelayChoice {
  const asked = Number(new URLSearchParams(search).get('relay'));
  const kept = Number(sessionStorage.getItem(RELAY_KEY));
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= relayUrls.length;
  const index = valid(asked) ? asked : valid(kept) ? kept : 1 + Math.floor(Math.random() * relayUrls.length);
  sessionStorage.setItem(RELAY_KEY, String(index));
  return { index, url: relayUrls[index - 1]! };
}
