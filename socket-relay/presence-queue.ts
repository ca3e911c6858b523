/**
 * The presence script runs of one channel, one at a time and in the order
 * they were asked for. Pipelining them instead would let Redis apply them out
 * of order: when Redis has lost the script (SCRIPT FLUSH, a failover, script
 * eviction), ioredis answers NOSCRIPT by sending that call again as EVAL, and
 * a later call of the same channel that meanwhile found the script (loaded by
 * another relay) would run first — a `remove` before its `add`, leaving a
 * ghost and a wrong `join`. Waiting for each reply closes that for good,
 * whatever the script cache does, and still sends the script as EVALSHA.
 *
 * What waits meanwhile is merged: per entry only the latest wish counts (an
 * `add` then a `remove` of one entry before either was sent is a `remove`), so
 * a stalled Redis holds at most one wish per local entry, and the next run
 * carries every change that queued up behind the previous one.
 */
import type { UpdateCounts } from './presence-scripts.js';

export type UpdateOp = 'add' | 'remove' | 'sweep';
/** Runs the update script once for `channel` (entries: none for `sweep`). */
export type RunUpdate = (channel: string, op: UpdateOp, entries: string[]) => Promise<UpdateCounts>;

export interface PresenceQueueOptions {
  /** Entries one script run carries at most (one run blocks Redis for its duration). */
  entriesPerRun: number;
  /**
   * Sweep-only runs after a run that swept a full batch, before the channel's
   * next queued changes go out: with the sweep batch of 200, 100 runs clear
   * 20,000 expired entries (a dead relay's) in one go; any rest goes with the
   * following runs.
   */
  maxSweepRuns: number;
}

interface Waiting {
  /** Entry → the latest wish for it, in the order first asked. */
  wishes: Map<string, 'add' | 'remove'>;
  settle: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

export class PresenceQueue {
  /** Channels with a run in flight → what waits for the next one. */
  private readonly channels = new Map<string, Waiting>();

  constructor(
    private readonly runUpdate: RunUpdate,
    private readonly options: PresenceQueueOptions,
  ) {}

  /**
   * Adds (or rewrites) or removes `entries` on `channel`. Resolves once Redis
   * has applied them (and swept what expired); rejects when a run carrying
   * them failed.
   */
  update(channel: string, op: 'add' | 'remove', entries: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      let waiting = this.channels.get(channel);
      const idle = !waiting;
      if (!waiting) this.channels.set(channel, (waiting = { wishes: new Map(), settle: [] }));
      for (const entry of entries) {
        waiting.wishes.delete(entry); // re-inserted last: the newest wish goes in its own turn
        waiting.wishes.set(entry, op);
      }
      waiting.settle.push({ resolve, reject });
      if (idle) void this.drain(channel);
    });
  }

  /** Whether a run of `channel` is in flight or waiting. */
  busy(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** Never rejects: each batch's outcome goes to its callers. */
  private async drain(channel: string): Promise<void> {
    for (;;) {
      const waiting = this.channels.get(channel)!;
      if (waiting.settle.length === 0) {
        this.channels.delete(channel);
        return;
      }
      // What arrives from here on waits for the next turn.
      this.channels.set(channel, { wishes: new Map(), settle: [] });
      try {
        await this.send(channel, waiting.wishes);
        for (const s of waiting.settle) s.resolve();
      } catch (err) {
        for (const s of waiting.settle) s.reject(err);
      }
    }
  }

  /** Adds first (a user moving from one tab to another then gets no leave and join), then removes, then the sweep's rest. */
  private async send(channel: string, wishes: Map<string, 'add' | 'remove'>): Promise<void> {
    const adds: string[] = [];
    const removes: string[] = [];
    for (const [entry, op] of wishes) (op === 'add' ? adds : removes).push(entry);
    let more = false;
    for (const [op, entries] of [['add', adds], ['remove', removes]] as const) {
      for (let i = 0; i < entries.length; i += this.options.entriesPerRun) {
        more = (await this.runUpdate(channel, op, entries.slice(i, i + this.options.entriesPerRun))).more;
      }
    }
    for (let runs = 0; more && runs < this.options.maxSweepRuns; runs++) more = (await this.runUpdate(channel, 'sweep', [])).more;
  }
}
