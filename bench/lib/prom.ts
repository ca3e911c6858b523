/**
 * Reads prom-client's default metrics from a server's `/metrics` (the relay
 * has them; the Socket.IO peer serves the same ones), e.g. event-loop lag.
 * prom-client resets its event-loop histogram on every scrape, so a `max`
 * read covers the time since the previous scrape.
 */

import { PROM_CLIENT_LOOP_RESOLUTION_MS, stallMs } from './loop-stall.js';

export async function scrape(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.length === 0) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Polls the event-loop stalls of several servers every `intervalMs` and keeps the worst seen. */
export class LoopLagWatcher {
  private timer: NodeJS.Timeout | null = null;
  readonly maxMs: Record<string, number> = {};
  readonly p99Ms: Record<string, number> = {};

  constructor(private readonly urls: Record<string, string>) {}

  async start(intervalMs = 1000): Promise<void> {
    await this.poll(false); // resets the servers' histograms
    this.timer = setInterval(() => void this.poll(true), intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.poll(true);
  }

  private async poll(keep: boolean): Promise<void> {
    await Promise.all(
      Object.entries(this.urls).map(async ([name, url]) => {
        try {
          const m = await scrape(url);
          if (!keep) return;
          const max = stallMs((m.get('nodejs_eventloop_lag_max_seconds') ?? 0) * 1e9, PROM_CLIENT_LOOP_RESOLUTION_MS);
          const p99 = stallMs((m.get('nodejs_eventloop_lag_p99_seconds') ?? 0) * 1e9, PROM_CLIENT_LOOP_RESOLUTION_MS);
          this.maxMs[name] = Math.max(this.maxMs[name] ?? 0, Math.round(max * 10) / 10);
          this.p99Ms[name] = Math.max(this.p99Ms[name] ?? 0, Math.round(p99 * 10) / 10);
        } catch {
          // a busy server may miss a scrape; the next one covers the gap
        }
      }),
    );
  }
}
