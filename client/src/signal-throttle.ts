/**
 * Client-side signal rate limit: at most one signal per event name per
 * interval; signals in between coalesce and the last one goes out when the
 * interval ends (so the final cursor position or "stopped typing" is never lost).
 * Keeps clients well under the relay's per-user SIGNAL_RATE.
 */
interface Slot {
  last: number;
  timer: ReturnType<typeof setTimeout> | null;
  data: unknown;
}

export class SignalThrottle {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly intervalMs: number,
    private readonly send: (event: string, data: unknown) => void,
  ) {}

  push(event: string, data: unknown): void {
    const now = Date.now();
    let slot = this.slots.get(event);
    if (!slot) {
      // Bounded by the app's event names; a few dozen at most in practice.
      if (this.slots.size >= 64) this.clearIdle(now);
      this.slots.set(event, (slot = { last: 0, timer: null, data: undefined }));
    }
    if (!slot.timer && now - slot.last >= this.intervalMs) {
      slot.last = now;
      this.send(event, data);
      return;
    }
    slot.data = data;
    if (!slot.timer) {
      const s = slot;
      s.timer = setTimeout(() => {
        s.timer = null;
        s.last = Date.now();
        this.send(event, s.data);
      }, this.intervalMs - (now - slot.last));
    }
  }

  clear(): void {
    for (const slot of this.slots.values()) if (slot.timer) clearTimeout(slot.timer);
    this.slots.clear();
  }

  private clearIdle(now: number): void {
    for (const [event, slot] of this.slots) if (!slot.timer && now - slot.last >= this.intervalMs) this.slots.delete(event);
  }
}
