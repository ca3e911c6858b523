/**
 * Liveness. The relay's own WebSocket pings are invisible to browser code,
 * so the SDK sends `ping` frames: when nothing arrived for `intervalMs`, a
 * ping must be answered within `timeoutMs`, or the socket counts as dead.
 * A dead socket is therefore noticed at most intervalMs + timeoutMs + 1 s
 * after the last frame (16 s with the defaults).
 */
import type { HeartbeatOptions } from './types.js';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 5_000;
const TICK_MS = 1000;

export interface HeartbeatActions {
  /** Sends a ping; resolves on the pong, rejects after `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /** The socket is dead: drop it. */
  dead(): void;
}

export class Heartbeat {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  private lastReceived = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private probing = false;
  private generation = 0;

  constructor(options: HeartbeatOptions, private readonly actions: HeartbeatActions) {
    this.intervalMs = Math.max(100, options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
    this.timeoutMs = Math.max(100, options.timeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS);
  }

  start(): void {
    this.stop();
    this.lastReceived = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastReceived >= this.intervalMs) this.probe();
    }, Math.min(TICK_MS, this.intervalMs));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.probing = false;
    this.generation++;
  }

  /** Any frame proves the socket alive. */
  received(): void {
    this.lastReceived = Date.now();
  }

  /** Pings now (unless a ping is already out). */
  probe(): void {
    if (this.probing || !this.timer) return;
    this.probing = true;
    const generation = this.generation;
    this.actions.ping(this.timeoutMs).then(
      () => {
        if (generation === this.generation) this.probing = false;
      },
      () => {
        if (generation !== this.generation) return;
        this.probing = false;
        this.actions.dead();
      },
    );
  }
}
