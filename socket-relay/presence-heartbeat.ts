/**
 * When each presence channel of this relay gets its heartbeat (the run that
 * rewrites its entries and sweeps expired ones). The interval is cut into
 * slots and every channel keeps one slot for as long as the relay holds it,
 * so a relay with many channels sends a steady trickle of script runs rather
 * than one burst per interval, and each channel's runs stay exactly one
 * interval apart: the ghost bound (presence-rules.ts) is unchanged.
 *
 * A channel whose previous heartbeat is still running when its turn comes
 * (Redis slow or unreachable) skips that turn instead of piling a second run
 * on it; its entries live for three intervals, so two skipped turns in a row
 * are survived.
 */

/** Slots per interval: with the 5 s heartbeat, a turn every 500 ms. */
export const HEARTBEAT_SLOTS = 10;

export class HeartbeatWheel {
  /** Channels per slot. */
  private readonly slots: Array<Set<string>>;
  private readonly slotOf = new Map<string, number>();
  private readonly running = new Set<string>();
  private turn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    intervalMs: number,
    /** One channel's heartbeat; expected to handle its own failures (a rejection is ignored here). */
    private readonly beat: (channel: string) => Promise<void>,
    /** Told when a channel's turn was skipped because its previous heartbeat was still running. */
    private readonly onSkipped: (channel: string) => void = () => {},
    slots = HEARTBEAT_SLOTS,
  ) {
    this.slots = Array.from({ length: slots }, () => new Set<string>());
    this.timer = setInterval(() => this.tick(), intervalMs / slots);
    this.timer.unref();
  }

  /** Gives `channel` the least busy slot (once; a channel already held keeps its slot). */
  add(channel: string): void {
    if (this.slotOf.has(channel)) return;
    let slot = 0;
    for (let i = 1; i < this.slots.length; i++) if (this.slots[i]!.size < this.slots[slot]!.size) slot = i;
    this.slots[slot]!.add(channel);
    this.slotOf.set(channel, slot);
  }

  delete(channel: string): void {
    const slot = this.slotOf.get(channel);
    if (slot === undefined) return;
    this.slots[slot]!.delete(channel);
    this.slotOf.delete(channel);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const slot = this.slots[this.turn++ % this.slots.length]!;
    for (const channel of slot) {
      if (this.running.has(channel)) {
        this.onSkipped(channel);
        continue;
      }
      this.running.add(channel);
      this.beat(channel)
        .catch(() => {})
        .finally(() => this.running.delete(channel));
    }
  }
}
