/**
 * A real WebSocket test client: records every frame, lets a test wait for
 * the frame it expects, and reports how the socket closed.
 */
import WebSocket from 'ws';
import type { ServerFrame } from '../../protocol/index.js';

export type Frame = ServerFrame & Record<string, unknown>;

export class TestClient {
  readonly frames: Frame[] = [];
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private refCounter = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => (w.match(frame) ? (w.resolve(frame), false) : true));
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Opens, authenticates and resolves after `welcome`. */
  static async connect(url: string, token: string): Promise<TestClient> {
    const client = await TestClient.open(url);
    client.send({ type: 'auth', token });
    const welcome = await Promise.race([client.next((f) => f.type === 'welcome'), client.closed.then((c) => c)]);
    if (!('type' in welcome)) throw new Error(`auth refused: ${welcome.code} ${welcome.reason}`);
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a command with a fresh `ref` and resolves with the reply (or error) echoing it. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    const ref = `r${++this.refCounter}`;
    const reply = this.next((f) => (f as { ref?: unknown }).ref === ref, timeoutMs);
    this.send({ ...frame, ref });
    return reply;
  }

  async subscribe(channel: string): Promise<Frame> {
    return this.request({ type: 'subscribe', channel });
  }

  /** The first frame (already received or future) matching `match`. */
  next(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  messages(channel?: string): Array<Extract<Frame, { type: 'message' }>> {
    return this.frames.filter((f) => f.type === 'message' && (!channel || f.channel === channel)) as Array<Extract<Frame, { type: 'message' }>>;
  }

  /** Waits until `count` message frames arrived on `channel`. */
  async waitForMessages(channel: string, count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages(channel).length < count) {
      if (Date.now() > deadline) throw new Error(`got ${this.messages(channel).length}/${count} messages on ${channel}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
