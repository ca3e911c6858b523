/**
 * The connection-wide signal budget. Each channel's SignalThrottle keeps one
 * event to one signal per `signalIntervalMs`, but five busy channels would
 * still send 50 signals a second: the relay's FRAME_RATE, past which it
 * closes the connection for good (4508), and far over its per-user
 * SIGNAL_RATE (20/s, burst 40). So every signal also takes a token from one
 * bucket per connection — SIGNAL_RATE_PER_S (15/s) with bursts of
 * SIGNAL_BURST (30) — leaving room for pings, subscribes and other tabs.
 * Without a token a signal waits; a newer one for the same channel and event
 * replaces the waiting one (the latest state wins), and past MAX_WAITING
 * distinct waiting pairs new ones are dropped (signals are ephemeral).
 */
export const SIGNAL_RATE_PER_S = 15;
export const SIGNAL_BURST = 30;
export const MAX_WAITING_SIGNALS = 256;

interface Waiting {
  channel: string;
  event: string;
  data: unknown;
}

export class SignalGate {
  private tokens: number;
  private refilledAt: number;
  private readonly waiting = new Map<string, Waiting>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly send: (channel: string, event: string, data: unknown) => void,
    private readonly ratePerS = SIGNAL_RATE_PER_S,
    private readonly burst = SIGNAL_BURST,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Sends now if the budget allows, else waits (coalesced per channel and event). False when dropped. */
  push(channel: string, event: string, data: unknown): boolean {
    const key = `${channel}\n${event}`;
    const queued = this.waiting.get(key);
    if (queued) {
      queued.data = data;
      return true;
    }
    if (this.waiting.size === 0 && this.take()) {
      this.send(channel, event, data);
      return true;
    }
    if (this.waiting.size >= MAX_WAITING_SIGNALS) return false;
    this.waiting.set(key, { channel, event, data });
    this.schedule();
    return true;
  }

  /** Forgets waiting signals of `channel` (unsubscribed), or all of them (the socket is gone). */
  clear(channel?: string): void {
    for (const [key, w] of this.waiting) if (channel === undefined || w.channel === channel) this.waiting.delete(key);
    if (this.waiting.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  get waitingCount(): number {
    return this.waiting.size;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerS) / 1000);
    this.refilledAt = now;
  }

  private take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private schedule(): void {
    if (this.timer || this.waiting.size === 0) return;
    this.refill();
    const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.ratePerS));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, waitMs);
  }

  private flush(): void {
    for (const [key, w] of this.waiting) {
      if (!this.take()) break;
      this.waiting.delete(key);
      this.send(w.channel, w.event, w.data);
    }
    this.schedule();
  }
}
