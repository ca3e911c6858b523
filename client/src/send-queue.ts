/**
 * Chat sends over HTTP, in order, surviving offline periods: each send gets
 * a `clientMessageId` once and keeps it through every retry, so the API
 * stores it at most once however often it is retried.
 */
import { Backoff } from './backoff.js';
import { TownsquareError } from './errors.js';
import type { HttpApi } from './http.js';
import { newClientMessageId } from './ids.js';
import type { ChatMessage } from './types.js';

export const DEFAULT_MAX_QUEUED_SENDS = 100;

interface QueuedSend {
  roomId: string;
  text: string;
  clientMessageId: string;
  resolve(message: ChatMessage): void;
  reject(error: Error): void;
}

/**
 * Worth retrying with the same id: no answer at all, 5xx (503 "not stored" and
 * "unknown outcome" alike), 429, and 409 (our fresh id can only conflict with
 * its own first attempt still running). Any other 4xx would fail again.
 */
export function isRetryableSendError(error: unknown): boolean {
  if (!(error instanceof TownsquareError)) return false;
  if (error.status === undefined) return error.code === 'network' || error.code === 'invalid_response';
  return error.status >= 500 || error.status === 429 || error.status === 409 || error.status === 408;
}

export class SendQueue {
  private readonly queue: QueuedSend[] = [];
  private running = false;
  private closed = false;
  private readonly backoff = new Backoff({ minDelayMs: 250, maxDelayMs: 10_000 });
  private wake: (() => void) | null = null;

  constructor(
    private readonly api: HttpApi,
    private readonly maxQueued: number,
    private readonly onFailed: (error: unknown, roomId: string, clientMessageId: string) => void,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  send(roomId: string, text: string): Promise<ChatMessage> {
    if (this.closed) return Promise.reject(new TownsquareError('closed', 'the client is closed'));
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(new TownsquareError('send_queue_full', `${this.queue.length} sends are already waiting (maxQueuedSends); try again when some went out`));
    }
    return new Promise<ChatMessage>((resolve, reject) => {
      this.queue.push({ roomId, text, clientMessageId: newClientMessageId(), resolve, reject });
      void this.pump();
    });
  }

  /** The network or the connection came back: retry now instead of waiting out the delay. */
  retryNow(): void {
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    for (const item of this.queue.splice(0)) item.reject(new TownsquareError('closed', 'the client was closed before this message was sent'));
    this.wake?.();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue[0]!;
        try {
          const message = await this.api.sendMessage(item.roomId, item.text, item.clientMessageId);
          this.backoff.reset();
          if (this.queue[0] === item) this.queue.shift();
          item.resolve(message);
        } catch (error) {
          if (this.closed) return;
          if (!isRetryableSendError(error)) {
            if (this.queue[0] === item) this.queue.shift();
            this.onFailed(error, item.roomId, item.clientMessageId);
            item.reject(error as Error);
            continue;
          }
          await this.pause((error as TownsquareError).retryAfterMs ?? this.backoff.next());
        }
      }
    } finally {
      this.running = false;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}
