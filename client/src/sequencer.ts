/**
 * The per-channel ordering core, pure logic: the last delivered `seq`, a
 * reorder buffer for messages that arrived ahead of a hole, and duplicate
 * dropping. Live frames and history pages both go through it, so whichever
 * path brings a `seq` first delivers it and the other is dropped.
 */
import type { Message } from './types.js';

/** Most messages held ahead of a hole; beyond that they are dropped (history still has them). */
export const MAX_BUFFERED = 5000;
/** Most serialized `data` held ahead of a hole (UTF-16 code units, about bytes for ASCII): 8 Mi. */
export const MAX_BUFFERED_CHARS = 8 * 1024 * 1024;
/** What an entry costs besides its `data` (ids, event name, bookkeeping), for the bound above. */
const ENTRY_OVERHEAD_CHARS = 128;

/** A history entry: the fields of a live message frame (`event: "gap"` is a tombstone). */
export interface HistoryEntry {
  seq: number;
  id: string;
  event: string;
  data: unknown;
  ts: number;
}

export const TOMBSTONE_EVENT = 'gap';

interface Held {
  message: Message;
  size: number;
}

export class Sequencer {
  /** The last `seq` delivered (or skipped as a tombstone / lost range); null before a position is known. */
  lastSeq: number | null;
  private readonly buffer = new Map<number, Held>();
  private bufferedChars = 0;

  constructor(
    readonly channel: string,
    start: number | null,
    private readonly maxBuffered = MAX_BUFFERED,
    private readonly maxBufferedChars = MAX_BUFFERED_CHARS,
  ) {
    this.lastSeq = start;
  }

  /**
   * A live message: what can be delivered now, in order (possibly nothing).
   * Before a position is known (`since: 'live'`) everything is held until `settle()`,
   * so an earlier seq arriving a little later is not lost.
   */
  offerLive(message: Message): Message[] {
    if (this.lastSeq === null) {
      this.hold(message);
      return [];
    }
    if (message.seq <= this.lastSeq) return [];
    if (message.seq !== this.lastSeq + 1) {
      this.hold(message);
      return [];
    }
    this.lastSeq = message.seq;
    this.remove(message.seq);
    return [message, ...this.drain()];
  }

  /**
   * `since: 'live'`: the reorder window after the first live message has passed.
   * The position becomes the lowest seq that arrived, minus one; what can be
   * delivered is returned (holes above it are filled from history as usual).
   */
  settle(): Message[] {
    if (this.lastSeq !== null || this.buffer.size === 0) return [];
    this.lastSeq = Math.min(...this.buffer.keys()) - 1;
    return this.drain();
  }

  /** Whether the position is still unknown (a `live` start before `settle()`). */
  get unsettled(): boolean {
    return this.lastSeq === null;
  }

  /** A page of history in ascending `seq`: tombstones use up their seq and are never delivered. */
  applyHistory(entries: readonly HistoryEntry[]): Message[] {
    if (this.lastSeq === null) return [];
    const out: Message[] = [];
    for (const entry of entries) {
      if (entry.seq <= this.lastSeq) continue;
      if (entry.seq !== this.lastSeq + 1) {
        // History skipped a seq without saying why: keep it for later, never deliver out of order.
        if (entry.event !== TOMBSTONE_EVENT) this.hold(toMessage(this.channel, entry));
        continue;
      }
      this.remove(entry.seq);
      this.lastSeq = entry.seq;
      if (entry.event !== TOMBSTONE_EVENT) out.push(toMessage(this.channel, entry));
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
    // Messages of the range held in the buffer are dropped with it: the range is reported
    // lost as a whole, and delivering some of it would contradict that report.
    this.lastSeq = toSeq;
    for (const seq of [...this.buffer.keys()]) if (seq <= toSeq) this.remove(seq);
    return { fromSeq, toSeq };
  }

  /** Messages are waiting behind a missing `seq`. */
  hasHole(): boolean {
    return this.lastSeq !== null && this.buffer.size > 0;
  }

  get buffered(): number {
    return this.buffer.size;
  }

  /** The serialized size of what is buffered (see MAX_BUFFERED_CHARS). */
  get bufferedSize(): number {
    return this.bufferedChars;
  }

  /**
   * Gives up on the held messages (history never filled the hole below them:
   * a relay announced seqs that do not exist). Returns what was dropped.
   */
  dropBuffered(): { fromSeq: number; toSeq: number; count: number } | null {
    if (this.buffer.size === 0) return null;
    const seqs = [...this.buffer.keys()];
    const dropped = { fromSeq: Math.min(...seqs), toSeq: Math.max(...seqs), count: seqs.length };
    this.clearBuffer();
    return dropped;
  }

  clearBuffer(): void {
    this.buffer.clear();
    this.bufferedChars = 0;
  }

  /**
   * Holds a message ahead of a hole, within both bounds. When full, a lower seq
   * (needed sooner) takes the place of the highest held; otherwise the newcomer
   * is dropped — history still has it, and the fill reads it from there.
   */
  private hold(message: Message): void {
    if (this.buffer.has(message.seq)) return;
    const size = sizeOf(message);
    if (size > this.maxBufferedChars) return;
    while (this.buffer.size >= this.maxBuffered || this.bufferedChars + size > this.maxBufferedChars) {
      const highest = Math.max(...this.buffer.keys());
      if (highest < message.seq) return;
      this.remove(highest);
    }
    this.buffer.set(message.seq, { message, size });
    this.bufferedChars += size;
  }

  private remove(seq: number): Held | undefined {
    const held = this.buffer.get(seq);
    if (held) {
      this.buffer.delete(seq);
      this.bufferedChars -= held.size;
    }
    return held;
  }

  /** Delivers the contiguous run after lastSeq. */
  private drain(): Message[] {
    const out: Message[] = [];
    if (this.lastSeq === null) return out;
    for (;;) {
      const next = this.remove(this.lastSeq + 1);
      if (!next) break;
      this.lastSeq = next.message.seq;
      out.push(next.message);
    }
    // Anything at or below lastSeq left in the buffer is a duplicate.
    if (this.buffer.size > 0) for (const seq of [...this.buffer.keys()]) if (seq <= this.lastSeq) this.remove(seq);
    return out;
  }
}

function toMessage(channel: string, entry: HistoryEntry): Message {
  return { channel, seq: entry.seq, id: entry.id, event: entry.event, data: entry.data, ts: entry.ts };
}

function sizeOf(message: Message): number {
  let data = 0;
  try {
    data = JSON.stringify(message.data)?.length ?? 0;
  } catch {
    // not serializable (cannot come from JSON): count the overhead only
  }
  return ENTRY_OVERHEAD_CHARS + data;
}
