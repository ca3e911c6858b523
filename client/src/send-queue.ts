/**
 * Chat sends over HTTP, in order per room, surviving offline periods: each
 * send gets a `clientMessageId` once and keeps it through every retry, so the
 * API stores it at most once however often it is retried. Each room has its
 * own lane, so a room whose sends keep failing does not hold up the others;
 * and a send that keeps failing is given up after a budget of attempts or a
 * deadline, rejecting with its `clientMessageId` so the app can try again.
 */
import { Backoff } from './backoff.js';
import { TownsquareError } from './errors.js';
import type { HttpApi } from './http.js';
import { newClientMessageId } from './ids.js';
import type { ChatMessage, SendRetryOptions } from './types.js';

export const DEFAULT_MAX_QUEUED_SENDS = 100;
export const DEFAULT_SEND_MAX_ATTEMPTS = 8;
export const DEFAULT_SEND_DEADLINE_MS = 300_000;
/** What the API accepts as a `clientMessageId`. */
const CLIENT_MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

interface QueuedSend {
  roomId: string;
  text: string;
  clientMessageId: string;
  queuedAt: number;
  /** Failed attempts that got an answer (network failures count only against the deadline). */
  attempts: number;
  resolve(message: ChatMessage): void;
  reject(error: Error): void;
}

/** One room's sends, one at a time, in order. */
interface Lane {
  items: QueuedSend[];
  running: boolean;
  backoff: Backoff;
  wake: (() => void) | null;
}

/**
 * Worth retrying with the same id: no answer at all, 5xx (503 "not stored" and
 * "unknown outcome" alike), 429, 408, and 409 (our fresh id can only conflict with
 * its own first attempt still running). Any other 4xx would fail again.
 */
export function isRetryableSendError(error: unknown): boolean {
  if (!(error instanceof TownsquareError)) return false;
  if (error.status === undefined) return error.code === 'network' || error.code === 'invalid_response';
  return error.status >= 500 || error.status === 429 || error.status === 409 || error.status === 408;
}

export class SendQueue {
  private readonly lanes = new Map<string, Lane>();
  private queued = 0;
  private closed = false;
  private readonly maxAttempts: number;
  private readonly deadlineMs: number;

  constructor(
    private readonly api: HttpApi,
    private readonly maxQueued: number,
    private readonly onFailed: (error: TownsquareError, roomId: string, clientMessageId: string) => void,
    retry: SendRetryOptions = {},
  ) {
    this.maxAttempts = Math.max(1, retry.maxAttempts ?? DEFAULT_SEND_MAX_ATTEMPTS);
    this.deadlineMs = Math.max(0, retry.deadlineMs ?? DEFAULT_SEND_DEADLINE_MS);
  }

  get size(): number {
    return this.queued;
  }

  send(roomId: string, text: string, clientMessageId?: string): Promise<ChatMessage> {
    if (this.closed) return Promise.reject(new TownsquareError('closed', 'the client is closed'));
    if (clientMessageId !== undefined && !CLIENT_MESSAGE_ID.test(clientMessageId)) {
      return Promise.reject(new TypeError('clientMessageId must be 1-64 of A-Z a-z 0-9 _ -'));
    }
    if (this.queued >= this.maxQueued) {
      return Promise.reject(new TownsquareError('send_queue_full', `${this.queued} sends are already waiting (maxQueuedSends); try again when some went out`));
    }
    return new Promise<ChatMessage>((resolve, reject) => {
      let lane = this.lanes.get(roomId);
      if (!lane) this.lanes.set(roomId, (lane = { items: [], running: false, backoff: new Backoff({ minDelayMs: 250, maxDelayMs: 10_000 }), wake: null }));
      lane.items.push({ roomId, text, clientMessageId: clientMessageId ?? newClientMessageId(), queuedAt: Date.now(), attempts: 0, resolve, reject });
      this.queued++;
      void this.pump(lane);
    });
  }

  /** The network or the connection came back: retry now instead of waiting out the delay. */
  retryNow(): void {
    for (const lane of this.lanes.values()) lane.wake?.();
  }

  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const item of lane.items.splice(0)) item.reject(new TownsquareError('closed', 'the client was closed before this message was sent', undefined, undefined, item.clientMessageId));
      lane.wake?.();
    }
    this.lanes.clear();
    this.queued = 0;
  }

  private async pump(lane: Lane): Promise<void> {
    if (lane.running) return;
    lane.running = true;
    try {
      while (lane.items.length > 0 && !this.closed) {
        const item = lane.items[0]!;
        try {
          const message = await this.api.sendMessage(item.roomId, item.text, item.clientMessageId);
          lane.backoff.reset();
          this.settle(lane, item);
          item.resolve(message);
        } catch (error) {
          if (this.closed) return;
          const failure = this.giveUp(item, error);
          if (failure) {
            this.settle(lane, item);
            this.onFailed(failure, item.roomId, item.clientMessageId);
            item.reject(failure);
            continue;
          }
          const left = item.queuedAt + this.deadlineMs - Date.now();
          await this.pause(lane, Math.min((error as TownsquareError).retryAfterMs ?? lane.backoff.next(), Math.max(0, left)));
        }
      }
    } finally {
      lane.running = false;
      if (lane.items.length === 0) this.dropIfIdle(lane);
    }
  }

  /** The error to reject `item` with, or null to retry it. */
  private giveUp(item: QueuedSend, error: unknown): TownsquareError | null {
    const err = error instanceof TownsquareError ? error : new TownsquareError('send_failed', String(error));
    if (!isRetryableSendError(error)) {
      return new TownsquareError(err.code, err.message, err.status, err.retryAfterMs, item.clientMessageId, error);
    }
    if (err.code !== 'network') item.attempts++;
    const expired = Date.now() - item.queuedAt >= this.deadlineMs;
    if (item.attempts < this.maxAttempts && !expired) return null;
    const why = expired ? `still failing ${Math.round(this.deadlineMs / 1000)} s after it was queued (sendRetry.deadlineMs)` : `failed ${item.attempts} times (sendRetry.maxAttempts)`;
    return new TownsquareError('send_failed', `gave up on a send to room ${item.roomId}: ${why}; last error: ${err.message}`, err.status, err.retryAfterMs, item.clientMessageId, error);
  }

  private settle(lane: Lane, item: QueuedSend): void {
    if (lane.items[0] === item) {
      lane.items.shift();
      this.queued--;
    }
  }

  private dropIfIdle(lane: Lane): void {
    for (const [roomId, l] of this.lanes) if (l === lane && l.items.length === 0 && !l.running) this.lanes.delete(roomId);
  }

  private pause(lane: Lane, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        lane.wake = null;
        resolve();
      }
      lane.wake = done;
    });
  }
}
