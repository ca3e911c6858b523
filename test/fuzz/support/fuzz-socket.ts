/**
 * A WebSocket client for fuzzing: sends text (including invalid UTF-8) and
 * binary frames, records every frame the relay sends with its raw text and
 * arrival time, and reports how the socket ended. Unlike the test client it
 * never throws on what it receives; the oracles judge it.
 */
import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';

export interface Received {
  raw: string;
  /** The parsed frame, or `undefined` when the relay sent text that is not JSON. */
  value: unknown;
  at: number;
}

export interface Ended {
  code: number;
  reason: string;
}

/** The upgrade was refused with an HTTP response (e.g. 429 over a per-IP cap). */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

export class FuzzSocket {
  readonly received: Received[] = [];
  readonly ended: Promise<Ended>;
  endedWith: Ended | null = null;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const raw = isBinary ? `<binary ${data.length} bytes>` : data.toString();
      let value: unknown;
      try {
        value = isBinary ? undefined : JSON.parse(raw);
      } catch {
        value = undefined;
      }
      this.received.push({ raw, value, at: Date.now() });
      this.wake();
    });
    ws.on('error', () => {}); // the close event reports the outcome
    this.ended = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.endedWith = { code, reason: reason.toString() };
        resolve(this.endedWith);
        this.wake();
      }),
    );
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Opens a socket; rejects with `UpgradeRefused` when the relay answers the upgrade with an HTTP status. */
  static open(url: string, timeoutMs = 10_000): Promise<FuzzSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const socket = new FuzzSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0));
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendText(text: string): void {
    if (this.open) this.ws.send(text);
  }

  /** A text frame whose bytes are given as is (they may not be UTF-8). */
  sendTextBytes(bytes: Uint8Array): void {
    if (this.open) this.ws.send(Buffer.from(bytes), { binary: false });
  }

  sendBinary(bytes: Uint8Array): void {
    if (this.open) this.ws.send(Buffer.from(bytes), { binary: true });
  }

  /** Parsed frames (objects) received so far. */
  frames(): Array<Record<string, unknown>> {
    return this.received.map((r) => r.value).filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
  }

  /**
   * Resolves with the first received frame (from index `from`) matching `match`, or null
   * when the socket ends or `timeoutMs` passes first.
   */
  async waitFor(match: (frame: Record<string, unknown>) => boolean, timeoutMs: number, from = 0): Promise<Record<string, unknown> | null> {
    const deadline = Date.now() + timeoutMs;
    for (let i = from; ; ) {
      for (; i < this.received.length; i++) {
        const v = this.received[i]!.value;
        if (typeof v === 'object' && v !== null && match(v as Record<string, unknown>)) return v as Record<string, unknown>;
      }
      if (this.endedWith) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the relay to end the socket; null when it has not within `timeoutMs`. */
  async waitEnded(timeoutMs: number): Promise<Ended | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
    const result = await Promise.race([this.ended, timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Closes from our side (normal close, then terminate if the relay does not answer). */
  async close(): Promise<void> {
    if (this.endedWith) return;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    if (!(await this.waitEnded(2000))) this.ws.terminate();
    await this.ended;
  }
}

export interface RawOutcome {
  /** HTTP status of the handshake answer, when one came. */
  status: number | null;
  /** Close code of the first close frame the relay sent, when one came. */
  closeCode: number | null;
}

/**
 * Speaks to the relay's port over plain TCP: sends `request` (an HTTP upgrade of our
 * making, or junk), then, when the upgrade succeeded, `frameBytes` (hand-built WebSocket
 * frames, masked or not). Waits `waitMs` for an answer, then drops the connection.
 */
export function rawExchange(port: number, request: Uint8Array, frameBytes: Uint8Array | null, waitMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let status: number | null = null;
    let headerEnd = -1;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      let closeCode: number | null = null;
      if (headerEnd >= 0) {
        const frames = buffer.subarray(headerEnd);
        // The relay's first frame: FIN+opcode, then a 7-bit length (a close frame is short).
        if (frames.length >= 4 && (frames[0]! & 0x0f) === 0x8 && (frames[1]! & 0x7f) >= 2) closeCode = frames.readUInt16BE(2);
      }
      resolve({ status, closeCode });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (headerEnd < 0) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        headerEnd = end + 4;
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buffer.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status === 101 && frameBytes) socket.write(frameBytes);
        else if (status !== 101) finish();
      }
      // A close frame from the relay is the answer; no need to wait for the TCP close.
      if (headerEnd >= 0 && buffer.length >= headerEnd + 4 && (buffer[headerEnd]! & 0x0f) === 0x8) finish();
    });
  });
}
