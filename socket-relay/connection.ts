/**
 * One client connection's state: identity, subscriptions, rate limits and a
 * bounded send queue. It never sees `ws` itself, only a `Transport`, so the
 * hub and the command logic are testable with a fake socket.
 */
import { CloseCode, type ServerFrame } from '../protocol/index.js';
import { TokenBucket } from './token-bucket.js';
import type { UserBudget } from './user-budgets.js';

/**
 * A frame serialized once and written to many sockets. The transport may
 * cache its wire encoding on it, so that is done once per message too.
 */
export class SharedFrame {
  wire: Buffer | undefined;
  constructor(readonly text: string) {}
}

/**
 * Commands one connection may have waiting; more are refused with `rate_limited`
 * (the connection stays). Above MAX_SUBSCRIPTIONS' default, so a client
 * resubscribing everything after a reconnect fits even when the store is slow.
 */
export const MAX_QUEUED_COMMANDS = 128;

export interface Transport {
  send(data: string): void;
  /** Writes a shared frame; transports without it get `send(frame.text)`. */
  sendShared?(frame: SharedFrame): void;
  close(code: number, reason: string): void;
  /** Bytes queued in user space and not yet handed to the kernel. */
  readonly bufferedAmount: number;
}

export interface ConnectionLimits {
  maxSubscriptions: number;
  maxBufferedBytes: number;
  frameRate: number;
  frameBurst: number;
  /** Largest serialized signal `data`, in bytes. */
  maxSignalBytes: number;
}

export class Connection {
  readonly subscriptions = new Set<string>();
  readonly frames: TokenBucket;
  closed = false;
  /** Epoch ms when the token expires (the server sweeps and closes with 4005); null: never. */
  expiresAt: number | null = null;
  private pending: Promise<void> | undefined;
  /** Commands received and not yet handled. */
  private queued = 0;

  constructor(
    readonly id: string,
    readonly userId: string,
    private readonly transport: Transport,
    readonly limits: ConnectionLimits,
    /** Shared by every connection of the user on this relay. */
    private readonly budget: UserBudget,
    private readonly onSlow: (connection: Connection) => void = () => {},
  ) {
    this.frames = new TokenBucket(limits.frameRate, limits.frameBurst);
  }

  /**
   * Writes an already serialized frame. A client whose queue is over the limit
   * is cut off with 4009 rather than letting its buffer grow without bound.
   * Returns whether the frame was written.
   */
  sendRaw(data: string | SharedFrame): boolean {
    if (this.closed) return false;
    if (this.transport.bufferedAmount > this.limits.maxBufferedBytes) {
      this.onSlow(this);
      this.close(CloseCode.TooSlow, 'too slow to keep up');
      return false;
    }
    if (typeof data === 'string') this.transport.send(data);
    else if (this.transport.sendShared) this.transport.sendShared(data);
    else this.transport.send(data.text);
    return true;
  }

  /** Takes a signal token from the user's budget: `signalRate` per second, bursts of twice that. */
  takeSignal(): boolean {
    return this.budget.signals.take();
  }

  /** Takes a subscribe token from the user's budget (each subscribe costs an access check). */
  takeSubscribe(): boolean {
    return this.budget.subscribes.take();
  }

  /**
   * Runs `task` after every earlier one: commands of one connection are
   * handled in the order they arrived (subscribe then unsubscribe stays so).
   */
  enqueue(task: () => Promise<void>): Promise<void> {
    this.queued++;
    const next = (this.pending ? this.pending.then(task) : task()).finally(() => this.queued--);
    this.pending = next.catch(() => {});
    return next;
  }

  /**
   * Whether a frame that just arrived may be handled: within the frame rate, and
   * with few enough commands still waiting (a command blocked on the store or
   * the broker must not let a client pile up frames in memory).
   */
  admit(): 'ok' | 'flood' | 'queue_full' {
    if (!this.frames.take()) return 'flood';
    return this.queued < MAX_QUEUED_COMMANDS ? 'ok' : 'queue_full';
  }

  send(frame: ServerFrame): boolean {
    return this.sendRaw(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close(code, reason);
  }

  /** Called by the server once the socket is gone, whoever closed it. */
  markClosed(): void {
    this.closed = true;
  }
}
