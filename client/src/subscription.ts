/**
 * One channel subscription: its state machine, exactly-once in-order
 * delivery (through the Sequencer), history fills after every (re)subscribe,
 * `resync` and seq jump, presence members, and throttled signals.
 */
import { EVENT_PATTERN, type ServerFrame } from '../../protocol/frames.js';
import { Backoff, jitterMs } from './backoff.js';
import type { Connection } from './connection.js';
import { errorMessage } from './connection.js';
import { Emitter } from './emitter.js';
import type { TownsquareError } from './errors.js';
import type { HttpApi } from './http.js';
import { Sequencer } from './sequencer.js';
import type { SignalGate } from './signal-gate.js';
import { SignalThrottle } from './signal-throttle.js';
import type { Message, StateChange, SubscribeOptions, SubscriptionEvents, SubscriptionState } from './types.js';

/** How long a message waits at least for an earlier `seq` to arrive live before history is asked. */
export const REORDER_WINDOW_MS = 250;
/**
 * Plus up to this much at random: every subscriber that lost the same message
 * would otherwise ask history for it in the same millisecond.
 */
export const REORDER_JITTER_MS = 250;
/**
 * A `resync` (the relay's Redis connection was down) reaches every subscriber
 * of every channel at once: each fills at a random moment within this.
 */
export const RESYNC_SPREAD_MS = 2000;
/**
 * Fills in a row that read history to its end without closing the hole below
 * held messages (or made no progress at all) before the SDK gives up on them.
 */
export const MAX_UNFILLED_ROUNDS = 4;
/** Largest serialized signal `data` the relay accepts (MAX_SIGNAL_BYTES). */
export const MAX_SIGNAL_BYTES = 4096;
/** Error codes after which subscribing again cannot help. */
const TERMINAL_SUBSCRIBE_CODES = new Set(['forbidden', 'invalid_channel', 'not_found', 'too_many_subscriptions', 'bad_request']);

/** @internal */
export interface SubscriptionHost {
  connection: Connection;
  api: HttpApi;
  signalIntervalMs: number;
  /** The connection-wide signal budget. */
  signals: SignalGate;
  /** The subscription ended (unsubscribe): drop it from the client. */
  forget(subscription: Subscription): void;
}

type FrameFor<T extends string> = Extract<ServerFrame, { type: T }>;
/**
 * How a fill ended: read to the current end of the log (maybe stopping at a seq
 * still being written), failed (a retry is scheduled), or stalled (history moved
 * on without the next seq).
 */
type FillOutcome = 'failed' | 'stalled' | { retryAfterMs?: number };

export class Subscription {
  state: SubscriptionState = 'unsubscribed';
  /** Users present on the channel (room: and document: channels), sorted. */
  members: string[] = [];
  private readonly events: Emitter<SubscriptionEvents>;
  private readonly sequencer: Sequencer;
  private readonly retry = new Backoff({ minDelayMs: 500, maxDelayMs: 10_000 });
  private readonly throttle: SignalThrottle;
  /** Bumped on every (re)subscribe and on unsubscribe: replies of older rounds are ignored. */
  private generation = 0;
  private subscribedBefore = false;
  /** The current round's `subscribed` event is still to be emitted (after its fill). */
  private announcing = false;
  /** Whether the current round lost nothing (no gap reported, position known). */
  private roundRecovered = true;
  private filling = false;
  private fillAgain = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private reorderTimer: ReturnType<typeof setTimeout> | null = null;
  /** Fills in a row that ended with the hole still open at the same position (see MAX_UNFILLED_ROUNDS). */
  private unfilledRounds = 0;
  private unfilledAt: number | null = null;
  /** The seq being emitted right now (a listener may unsubscribe in the middle of a batch). */
  private delivering: number | null = null;

  /** @internal Made by `Townsquare.subscribe`. */
  constructor(
    readonly channel: string,
    options: SubscribeOptions,
    private readonly host: SubscriptionHost,
  ) {
    const since = options.since ?? 0;
    if (since !== 'live' && !(Number.isInteger(since) && since >= 0)) throw new TypeError("since must be a whole number ≥ 0 or 'live'");
    this.sequencer = new Sequencer(channel, since === 'live' ? null : since);
    this.events = new Emitter<SubscriptionEvents>((error, event) =>
      host.connection.reportError({ kind: 'listener', message: `a listener of '${event}' on ${channel} threw: ${errorMessage(error)}`, context: { channel, event }, error }),
    );
    this.throttle = new SignalThrottle(host.signalIntervalMs, (event, data) => this.host.signals.push(channel, event, data));
  }

  /** The last `seq` delivered (0 when none yet). */
  get lastSeq(): number {
    return this.sequencer.lastSeq ?? 0;
  }

  /** @internal Where a later subscription of this channel resumes (null: no position yet). */
  get resumeSeq(): number | null {
    return this.delivering ?? this.sequencer.lastSeq;
  }

  on<K extends keyof SubscriptionEvents>(event: K, listener: (payload: SubscriptionEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Sends an ephemeral signal (typing, cursor); coalesced to one per `signalIntervalMs` per event, the last
   * data wins, and within the connection's signal budget (15/s). Dropped while not subscribed.
   */
  signal(event: string, data?: unknown): void {
    if (!EVENT_PATTERN.test(event)) throw new TypeError('signal event names are 1-64 of A-Z a-z 0-9 _ . : -');
    const size = data === undefined ? 0 : utf8Length(JSON.stringify(data) ?? '');
    if (size > MAX_SIGNAL_BYTES) throw new RangeError(`signal data is ${size} bytes serialized; the relay accepts at most ${MAX_SIGNAL_BYTES}`);
    if (this.state !== 'subscribed') return;
    this.throttle.push(event, data);
  }

  unsubscribe(): void {
    if (this.state === 'unsubscribed') return;
    const wasLive = this.state === 'subscribed' || this.state === 'subscribing';
    this.generation++;
    this.clearTimers();
    this.throttle.clear();
    this.host.signals.clear(this.channel);
    this.sequencer.clearBuffer();
    this.setState('unsubscribed');
    this.setMembers([]);
    if (wasLive && this.host.connection.state === 'connected') {
      this.host.connection.request({ type: 'unsubscribe', channel: this.channel }).catch(() => {});
    }
    this.host.forget(this);
  }

  // ── Driven by the client ──
  /** @internal Starts (or restarts a failed subscription); subscribes now if connected, else on the next `welcome`. */
  start(): void {
    if (this.state === 'subscribing' || this.state === 'subscribed') return;
    this.setState('subscribing');
    if (this.host.connection.state === 'connected') void this.subscribe();
  }

  /** @internal Connected (again): subscribe. */
  connectionReady(): void {
    if (this.state === 'subscribing' || this.state === 'subscribed') void this.subscribe();
  }

  /** @internal The socket is gone: live delivery stopped until the next subscribe. */
  connectionLost(): void {
    this.generation++;
    this.throttle.clear();
    this.host.signals.clear(this.channel);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.state === 'subscribed') this.setState('subscribing', 'connection lost');
  }

  /** @internal A frame for this channel. */
  handleFrame(frame: ServerFrame): void {
    if (this.state === 'unsubscribed' || this.state === 'failed') return;
    switch (frame.type) {
      case 'message':
        this.deliver(this.sequencer.offerLive({ channel: frame.channel, seq: frame.seq, id: frame.id, event: frame.event, data: frame.data, ts: frame.ts }));
        // A hole, or a `live` start still choosing its position: wait for late arrivals first.
        if (this.sequencer.buffered > 0) this.scheduleReorderFill();
        break;
      case 'signal':
        this.events.emit('signal', { event: frame.event, userId: frame.userId, data: frame.data });
        break;
      case 'presence':
        this.setMembers(frame.members.map((m) => m.userId));
        break;
      case 'join':
        if (!this.members.includes(frame.userId)) this.setMembers([...this.members, frame.userId]);
        this.events.emit('join', { userId: frame.userId });
        break;
      case 'leave':
        if (this.members.includes(frame.userId)) this.setMembers(this.members.filter((u) => u !== frame.userId));
        this.events.emit('leave', { userId: frame.userId });
        break;
      case 'resync':
        // The relay's broker connection was down: live messages of that time are lost. Every
        // subscriber of the relay hears this at once, so each asks history at a random moment.
        this.scheduleFill(jitterMs(RESYNC_SPREAD_MS));
        break;
      case 'unsubscribed':
        this.ended(frame);
        break;
    }
  }

  // ── Subscribing ──
  private async subscribe(): Promise<void> {
    const generation = ++this.generation;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState('subscribing');
    try {
      await this.host.connection.request({ type: 'subscribe', channel: this.channel });
    } catch (error) {
      if (generation !== this.generation) return;
      this.subscribeFailed(error as TownsquareError);
      return;
    }
    if (generation !== this.generation) return;
    this.retry.reset();
    this.roundRecovered = this.sequencer.lastSeq !== null;
    this.announcing = true;
    this.setState('subscribed');
    // Subscribed first, then history: a message stored between the two shows up in one of them.
    void this.fill();
  }

  private subscribeFailed(error: TownsquareError): void {
    const code = error.code;
    if (code === 'closed') return; // the socket went; `connectionReady` subscribes again
    this.host.connection.reportError({ kind: 'subscription', message: `subscribe to ${this.channel} failed: ${error.message}`, context: { channel: this.channel, code }, error });
    if (TERMINAL_SUBSCRIBE_CODES.has(code)) {
      this.fail(`${code}: ${error.message}`);
      return;
    }
    if (code === 'timeout') this.host.connection.check();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'subscribing' && this.host.connection.state === 'connected') void this.subscribe();
    }, this.retry.next());
  }

  private ended(frame: FrameFor<'unsubscribed'>): void {
    if (!frame.reason) return; // a reply to our own unsubscribe
    this.host.connection.reportError({ kind: 'subscription', message: `the relay ended the subscription to ${this.channel}: ${frame.reason}`, context: { channel: this.channel, reason: frame.reason } });
    this.fail(frame.reason);
  }

  private fail(reason: string): void {
    this.generation++;
    this.clearTimers();
    this.throttle.clear();
    this.host.signals.clear(this.channel);
    this.setMembers([]);
    this.setState('failed', reason);
  }

  // ── Filling from history ──
  /** Fetches everything after the last delivered seq; one fill at a time, repeated when asked meanwhile. */
  private async fill(): Promise<void> {
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    // The fill makes the reorder wait moot — unless a `live` start still waits to choose its position.
    if (this.reorderTimer && !this.sequencer.unsettled) {
      clearTimeout(this.reorderTimer);
      this.reorderTimer = null;
    }
    this.filling = true;
    let outcome: FillOutcome;
    try {
      do {
        this.fillAgain = false;
        outcome = await this.fillOnce();
        if (outcome === 'failed') return;
      } while (this.fillAgain && outcome !== 'stalled' && this.isActive());
    } finally {
      this.filling = false;
    }
    if (!this.isActive()) return;
    // History was read to its current end: the subscription has caught up.
    if (this.announcing && this.state === 'subscribed') {
      this.announcing = false;
      this.events.emit('subscribed', { recovered: this.roundRecovered, lastSeq: this.lastSeq, resubscribed: this.subscribedBefore });
      this.subscribedBefore = true;
    }
    if (outcome !== 'stalled' && outcome.retryAfterMs !== undefined) {
      // The next seq is taken but not written yet. The server's delay is the worst case (the
      // gap bound); a slow writer usually finishes in milliseconds, and its live publish may
      // bring the message sooner still.
      this.scheduleFill(Math.min(outcome.retryAfterMs, this.retry.next()));
    } else if (outcome === 'stalled' || this.sequencer.hasHole()) {
      this.unfilled();
    } else {
      this.retry.reset();
      this.unfilledRounds = 0;
    }
  }

  /**
   * A fill ended with the hole still open. Ask again with backoff — but a
   * relay that announced seqs history never gets (a bug) or a history that
   * keeps skipping must not keep the client polling for ever: after
   * MAX_UNFILLED_ROUNDS at the same position the held messages are dropped,
   * an `error` says so, and delivery carries on from where it is.
   */
  private unfilled(): void {
    const at = this.sequencer.lastSeq;
    this.unfilledRounds = at === this.unfilledAt ? this.unfilledRounds + 1 : 1;
    this.unfilledAt = at;
    if (this.unfilledRounds < MAX_UNFILLED_ROUNDS) {
      this.scheduleFill(this.retry.next());
      return;
    }
    this.unfilledRounds = 0;
    this.retry.reset();
    const dropped = this.sequencer.dropBuffered();
    this.host.connection.reportError({
      kind: 'history',
      message: `history of ${this.channel} has no seq ${(at ?? 0) + 1} after ${MAX_UNFILLED_ROUNDS} reads; ${dropped ? `dropped ${dropped.count} message(s) held ahead of it (seq ${dropped.fromSeq}–${dropped.toSeq})` : 'stopped asking'}`,
      context: { channel: this.channel, afterSeq: at, ...(dropped && { dropped }) },
    });
  }

  /** Pages to the current end of the log; 'failed' when a fetch failed (a retry is scheduled). */
  private async fillOnce(): Promise<FillOutcome> {
    for (;;) {
      if (!this.isActive()) return 'failed';
      const after = this.sequencer.lastSeq;
      if (after === null) return {}; // `live` and nothing yet: no position to fill from
      let page;
      try {
        page = await this.host.api.history(this.channel, after);
      } catch (error) {
        if (!this.isActive()) return 'failed';
        const err = error as TownsquareError;
        this.host.connection.reportError({
          kind: 'history',
          message: `history of ${this.channel} after seq ${after} failed: ${err.message}`,
          context: { channel: this.channel, afterSeq: after, status: err.status, code: err.code },
          error,
        });
        if (err.status === 403 || err.status === 404) this.fail(`history refused: ${err.code}`);
        else this.scheduleFill(err.retryAfterMs ?? this.retry.next());
        return 'failed';
      }
      if (!this.isActive()) return 'failed';
      if (page.truncated && page.firstSeq !== undefined) {
        const lost = this.sequencer.skipTo(page.firstSeq - 1);
        if (lost) {
          this.roundRecovered = false;
          this.events.emit('gap', { ...lost, reason: 'expired' });
        }
      }
      this.deliver(this.sequencer.applyHistory(page.messages));
      if (page.retryAfterMs !== undefined) return { retryAfterMs: page.retryAfterMs };
      if (page.nextAfterSeq === null) return {};
      if (this.sequencer.lastSeq === after) {
        // The page says "more after this" yet brought nothing usable (no next seq, no tombstone,
        // no lost range): asking again at once would ask the same question in a tight loop.
        this.roundRecovered = false;
        this.host.connection.reportError({
          kind: 'history',
          message: `history of ${this.channel} after seq ${after} skipped seq ${after + 1} without a tombstone (nextAfterSeq ${page.nextAfterSeq})`,
          context: { channel: this.channel, afterSeq: after, nextAfterSeq: page.nextAfterSeq },
        });
        return 'stalled';
      }
    }
  }

  private scheduleFill(delayMs: number): void {
    if (this.retryTimer || !this.isActive()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.fill();
    }, delayMs);
  }

  private scheduleReorderFill(): void {
    if (this.reorderTimer || (this.filling && !this.sequencer.unsettled)) return;
    this.reorderTimer = setTimeout(() => {
      this.reorderTimer = null;
      if (!this.isActive()) return;
      // A `live` start: the window is over, the lowest seq that arrived sets the position.
      if (this.sequencer.unsettled) this.deliver(this.sequencer.settle());
      if (this.sequencer.hasHole()) void this.fill();
    }, REORDER_WINDOW_MS + jitterMs(REORDER_JITTER_MS));
  }

  private isActive(): boolean {
    return this.state === 'subscribed' || this.state === 'subscribing';
  }

  private deliver(messages: Message[]): void {
    try {
      for (const message of messages) {
        if (!this.isActive()) {
          // A listener ended the subscription mid-batch: the rest is not delivered, and the
          // position goes back to the last one that was (where a restart resumes).
          this.sequencer.lastSeq = this.delivering ?? message.seq - 1;
          this.sequencer.clearBuffer();
          return;
        }
        this.delivering = message.seq;
        this.events.emit('message', message);
      }
    } finally {
      this.delivering = null;
    }
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.reorderTimer) clearTimeout(this.reorderTimer);
    this.retryTimer = this.reorderTimer = null;
  }

  private setMembers(members: string[]): void {
    const next = [...new Set(members)].sort();
    if (next.length === this.members.length && next.every((m, i) => m === this.members[i])) return;
    this.members = next;
    this.events.emit('presence', { members: next });
  }

  private setState(state: SubscriptionState, reason?: string): void {
    const previous = this.state;
    if (previous === state) return;
    this.state = state;
    const change: StateChange<SubscriptionState> = { state, previous, ...(reason !== undefined && { reason }) };
    this.events.emit('state', change);
  }
}

/** Bytes of `text` in UTF-8, as the relay measures MAX_SIGNAL_BYTES (a lone surrogate counts as U+FFFD: 3). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
