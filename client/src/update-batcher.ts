/**
 * Local Yjs updates → `POST /documents/{docId}/updates`, batched: the updates
 * of a short debounce are merged (`Y.mergeUpdates`) into one post, so typing
 * costs about one post a second instead of one per keystroke. One post is in
 * flight at a time; it keeps its clientUpdateId through every retry (stored
 * once however often it is retried), and what is typed meanwhile waits for
 * the next one. Offline, updates pile up here (merged as they grow) and go out
 * when the network is back.
 *
 * A batch that can never be stored (over the size limit, refused as
 * malformed) stops the batcher for good: Yjs applies a client's changes only
 * in clock order, so nothing this tab changes after it could be applied by
 * anyone either. It is never counted as saved.
 *
 *   add ──▶ pending ──(debounceMs after the last add, at most maxWaitMs after the first)──▶ in flight ──▶ acknowledged
 */
import { mergeUpdates } from 'yjs';
import { Backoff } from './backoff.js';
import { newClientMessageId } from './ids.js';

/** Quiet time after the last local change before its batch is posted. */
export const DEFAULT_DEBOUNCE_MS = 200;
/** Longest a local change waits while changes keep coming (continuous typing: one post per this). */
export const DEFAULT_MAX_WAIT_MS = 1000;
/** The API's largest update (MAX_DOCUMENT_UPDATE_BYTES in protocol/documents.ts); a batch never exceeds it. */
export const MAX_UPDATE_BYTES = 96 * 1024;
/** Pending entries beyond which they are merged into as few as fit (a long offline session stays small). */
const COMPACT_AT = 256;

/** What to do after a failed post: the same post later, or give up for good (`refused`: this batch can never be stored; `stop`: nothing can be, no access). */
export type PostFailure = 'retry' | 'refused' | 'stop';
/** Why the batcher stopped itself. */
export type StopReason = 'unsaveable' | 'no_access';

export interface BatcherOptions {
  debounceMs: number;
  maxWaitMs: number;
  maxBytes: number;
  post(update: Uint8Array, clientUpdateId: string): Promise<void>;
  classify(error: unknown): PostFailure;
  /** Every failure (retried or not) and every batch given up. */
  onError(error: unknown, context: { clientUpdateId: string; outcome: PostFailure | 'too_large' }): void;
  /** A batch was stored. */
  onSaved?(): void;
  /**
   * The batcher gives up for good: a batch can never be stored (`unsaveable`:
   * refused, or over the limit; it and every later change stay unsaved) or
   * nothing can (`no_access`). Called before it stops, so the owner may stop it
   * with its own reason (what waiting `flush`es reject with).
   */
  onStop(error: unknown, reason: StopReason): void;
  /** The server's retry hint (429, 503): waited instead of the backoff. */
  retryAfterMs?(error: unknown): number | undefined;
}

interface Pending {
  update: Uint8Array;
  /** Local changes this entry holds (several after compaction). */
  weight: number;
}

interface Waiter {
  upTo: number;
  resolve(): void;
  reject(error: Error): void;
}

export class UpdateBatcher {
  private pending: Pending[] = [];
  /** When the oldest pending change was made (0: none pending). */
  private pendingSince = 0;
  private lastAddAt = 0;
  private inFlight: { clientUpdateId: string; weight: number } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private wake: (() => void) | null = null;
  private readonly backoff = new Backoff({ minDelayMs: 250, maxDelayMs: 10_000 });
  /** Local changes added / acknowledged, counted alike so `flush` can wait for a point. */
  private added = 0;
  private settled = 0;
  private waiters: Waiter[] = [];
  /** Post the pending changes now (a `flush` is waiting). */
  private urgent = false;
  private stopped: Error | null = null;
  /** Posts acknowledged so far (measurements, tests). */
  posts = 0;

  constructor(private readonly options: BatcherOptions) {}

  /** Local changes not yet acknowledged by the API. */
  get unsaved(): number {
    return this.added - this.settled;
  }

  /** A local change (a doc `update` event's bytes). */
  add(update: Uint8Array): void {
    if (this.stopped) return;
    const now = Date.now();
    this.pending.push({ update, weight: 1 });
    this.added++;
    this.lastAddAt = now;
    if (this.pendingSince === 0) this.pendingSince = now;
    if (this.pending.length >= COMPACT_AT) this.compact();
    this.schedule();
  }

  /** Resolves once every change added so far is acknowledged; posts at once instead of waiting out the debounce. */
  flush(): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped);
    if (this.unsaved === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo: this.added, resolve, reject });
      this.urgent = true;
      this.retryNow();
      this.schedule();
    });
  }

  /** The network is back: a post waiting out its retry delay goes now. */
  retryNow(): void {
    this.wake?.();
  }

  /** Stops for good; unsaved changes are dropped and waiting `flush`es reject with `reason`. */
  stop(reason: Error): void {
    if (this.stopped) return;
    this.stopped = reason;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
    this.pending = [];
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
  }

  private schedule(): void {
    if (this.stopped || this.inFlight || this.pending.length === 0) return;
    const now = Date.now();
    const due = this.urgent ? now : Math.min(this.lastAddAt + this.options.debounceMs, this.pendingSince + this.options.maxWaitMs);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (due <= now) void this.postNext();
    else this.timer = setTimeout(() => this.schedule(), due - now);
  }

  private async postNext(): Promise<void> {
    const batch = this.takeBatch();
    if (!batch) return;
    const clientUpdateId = newClientMessageId();
    this.inFlight = { clientUpdateId, weight: batch.weight };
    try {
      if (batch.update.length > this.options.maxBytes) {
        // One local transaction larger than the API takes (a huge paste): it stays in the local doc only, and so does all that follows.
        const error = new RangeError(`a local change of ${batch.update.length} bytes is over the ${this.options.maxBytes}-byte update limit; it is not saved`);
        this.options.onError(error, { clientUpdateId, outcome: 'too_large' });
        this.giveUp(error, 'unsaveable');
        return;
      }
      if (!(await this.postWithRetry(batch.update, clientUpdateId))) return;
      this.backoff.reset();
      this.settle(batch.weight);
      this.options.onSaved?.();
    } finally {
      this.inFlight = null;
    }
    this.schedule();
  }

  /** True when the batch is stored; false when the batcher stopped. */
  private async postWithRetry(update: Uint8Array, clientUpdateId: string): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      try {
        await this.options.post(update, clientUpdateId);
        this.posts++;
        return true;
      } catch (error) {
        if (this.stopped) return false;
        const outcome = this.options.classify(error);
        this.options.onError(error, { clientUpdateId, outcome });
        if (outcome !== 'retry') {
          this.giveUp(error, outcome === 'stop' ? 'no_access' : 'unsaveable');
          return false;
        }
        const delay = this.backoff.next();
        await this.pause(this.options.retryAfterMs?.(error) ?? delay);
      }
    }
  }

  /** The first pending entries that fit in one update, merged. */
  private takeBatch(): Pending | null {
    if (this.pending.length === 0) return null;
    let take = 0;
    let bytes = 0;
    while (take < this.pending.length && (take === 0 || bytes + this.pending[take]!.update.length <= this.options.maxBytes)) {
      bytes += this.pending[take]!.update.length;
      take++;
    }
    let merged = this.merge(take);
    // Merging rarely grows the sum, but never send more than the limit: halve until it fits.
    while (merged.update.length > this.options.maxBytes && take > 1) merged = this.merge((take = Math.ceil(take / 2)));
    this.pending.splice(0, take);
    if (this.pending.length === 0) {
      this.pendingSince = 0;
      if (this.waiters.length === 0) this.urgent = false;
    }
    return merged;
  }

  private merge(count: number): Pending {
    const slice = this.pending.slice(0, count);
    if (slice.length === 1) return slice[0]!;
    return { update: mergeUpdates(slice.map((p) => p.update)), weight: slice.reduce((sum, p) => sum + p.weight, 0) };
  }

  /** Many small pending entries (a long offline session) become as few merged ones as fit the limit. */
  private compact(): void {
    const out: Pending[] = [];
    let group: Pending[] = [];
    let bytes = 0;
    const close = () => {
      if (group.length === 0) return;
      const merged = mergeUpdates(group.map((p) => p.update));
      const weight = group.reduce((sum, p) => sum + p.weight, 0);
      // Should the merge not fit (it practically never grows), keep the group as it was.
      if (group.length === 1 || merged.length > this.options.maxBytes) out.push(...group);
      else out.push({ update: merged, weight });
      group = [];
      bytes = 0;
    };
    for (const entry of this.pending) {
      if (bytes + entry.update.length > this.options.maxBytes) close();
      group.push(entry);
      bytes += entry.update.length;
    }
    close();
    this.pending = out;
  }

  private giveUp(error: unknown, reason: StopReason): void {
    this.options.onStop(error, reason);
    this.stop(error instanceof Error ? error : new Error(String(error)));
  }

  private settle(weight: number): void {
    this.settled += weight;
    const done = this.waiters.filter((w) => w.upTo <= this.settled);
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.settled);
    if (this.waiters.length === 0 && this.pending.length === 0) this.urgent = false;
    for (const waiter of done) waiter.resolve();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
