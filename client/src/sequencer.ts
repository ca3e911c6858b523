/**
 * The per-channel ordering core, pure logic: the last delivered `seq`, a
 * reorder buffer for messages that arrived ahead of a hole, and duplicate
 * dropping. Live frames and history pages both go through it, so whichever
 * path brings a `seq` first delivers it and the other is dropped.
 */
import type { Message } from './types.js';

/** Most messages held ahead of a hole; beyond that they are dropped (history still has them). */
export const MAX_BUFFERED = 5000;

/** A history entry: the fields of a live message frame (`event: "gap"` is a tombstone). */
export interface HistoryEntry {
  seq: number;
  id: string;
  event: string;
  data: unknown;
  ts: number;
}

export const TOMBSTONE_EVENT = 'gap';

export class Sequencer {
  /** The last `seq` delivered (or skipped as a tombstone / lost range); null before a position is known. */
  lastSeq: number | null;
  private readonly buffer = new Map<number, Message>();

  constructor(
    readonly channel: string,
    start: number | null,
    private readonly maxBuffered = MAX_BUFFERED,
  ) {
    this.lastSeq = start;
  }

  /** A live message: what can be delivered now, in order (possibly nothing). */
  offerLive(message: Message): Message[] {
    if (this.lastSeq === null) {
      // `live` start: the first message sets the position.
      this.lastSeq = message.seq - 1;
    }
    if (message.seq <= this.lastSeq) return [];
    if (message.seq !== this.lastSeq + 1) {
      if (this.buffer.size < this.maxBuffered || this.buffer.has(message.seq)) this.buffer.set(message.seq, message);
      return [];
    }
    this.buffer.set(message.seq, message);
    return this.drain();
  }

  /** A page of history in ascending `seq`: tombstones use up their seq and are never delivered. */
  applyHistory(entries: readonly HistoryEntry[]): Message[] {
    if (this.lastSeq === null) return [];
    const out: Message[] = [];
    for (const entry of entries) {
      if (entry.seq <= this.lastSeq) continue;
      if (entry.seq !== this.lastSeq + 1) {
        // History skipped a seq without saying why: keep it for later, never deliver out of order.
        if (entry.event !== TOMBSTONE_EVENT) this.buffer.set(entry.seq, { channel: this.channel, ...entry });
        continue;
      }
      this.buffer.delete(entry.seq);
      if (entry.event === TOMBSTONE_EVENT) {
        this.lastSeq = entry.seq;
      } else {
        this.lastSeq = entry.seq;
        out.push({ channel: this.channel, seq: entry.seq, id: entry.id, event: entry.event, data: entry.data, ts: entry.ts });
      }
      out.push(...this.drain());
    }
    return out;
  }

  /**
   * History no longer holds `seq`s up to `toSeq` (retention): move past them.
   * Returns the lost range, or null when nothing was skipped.
   */
  skipTo(toSeq: number): { fromSeq: number; toSeq: number } | null {
    if (this.lastSeq === null || toSeq <= this.lastSeq) return null;
    const fromSeq = this.lastSeq + 1;
    // Buffered messages inside the lost range did arrive: the loss is what is not buffered.
    this.lastSeq = toSeq;
    for (const seq of this.buffer.keys()) if (seq <= toSeq) this.buffer.delete(seq);
    return { fromSeq, toSeq };
  }

  /** Messages are waiting behind a missing `seq`. */
  hasHole(): boolean {
    return this.buffer.size > 0;
  }

  get buffered(): number {
    return this.buffer.size;
  }

  clearBuffer(): void {
    this.buffer.clear();
  }

  /** Delivers the contiguous run after lastSeq. */
  private drain(): Message[] {
    const out: Message[] = [];
    if (this.lastSeq === null) return out;
    for (;;) {
      const next = this.buffer.get(this.lastSeq + 1);
      if (!next) break;
      this.buffer.delete(next.seq);
      this.lastSeq = next.seq;
      out.push(next);
    }
    // Anything at or below lastSeq left in the buffer is a duplicate.
    if (this.buffer.size > 0) for (const seq of this.buffer.keys()) if (seq <= this.lastSeq) this.buffer.delete(seq);
    return out;
  }
}
