/**
 * Coalesces awareness signals per document before fan-out. Each of N
 * collaborators' cursors goes to the N−1 others, so awareness traffic grows
 * with N²; a burst (everyone moving at once, a client ignoring its throttle)
 * would multiply it again. Within one window only the latest signal of each
 * sending connection is kept (its awareness update is its whole state, so
 * the latest one is all a receiver needs); when the window ends, what was
 * kept is fanned out, in the order of those latest signals.
 *
 * Bounded: at most `maxSenders` senders per document per window (a window
 * that would hold more is flushed at once), and one timer for the whole relay.
 */
import type { Envelope } from '../protocol/index.js';

export type SignalEnvelope = Extract<Envelope, { kind: 'signal' }>;

export class AwarenessCoalescer {
  /** channel → sender key → its latest envelope in this window. */
  private readonly pending = new Map<string, Map<string, SignalEnvelope>>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly maxSenders: number,
    /** Fans out what a channel's window kept. */
    private readonly deliver: (channel: string, envelopes: SignalEnvelope[]) => void,
  ) {}

  /** Keeps `envelope` as its sender's latest for the current window. */
  offer(envelope: SignalEnvelope): void {
    let senders = this.pending.get(envelope.channel);
    if (!senders) this.pending.set(envelope.channel, (senders = new Map()));
    // A connection (one tab, one awareness client id) is the sender; without an origin, the user.
    const key = envelope.origin ?? `user:${envelope.userId}`;
    if (!senders.has(key) && senders.size >= this.maxSenders) {
      this.flushChannel(envelope.channel);
      this.pending.set(envelope.channel, (senders = new Map()));
    }
    senders.delete(key); // re-inserted at the end: the order of the latest signals
    senders.set(key, envelope);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.windowMs);
      this.timer.unref?.();
    }
  }

  /** The channel has no local subscribers any more: what it kept goes nowhere. */
  forget(channel: string): void {
    this.pending.delete(channel);
  }

  /** Channels with signals waiting. */
  get pendingChannels(): number {
    return this.pending.size;
  }

  /** Fans out every window now (and stops the timer). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const channel of [...this.pending.keys()]) this.flushChannel(channel);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  private flushChannel(channel: string): void {
    const senders = this.pending.get(channel);
    this.pending.delete(channel);
    if (senders && senders.size > 0) this.deliver(channel, [...senders.values()]);
  }
}
