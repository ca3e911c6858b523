/**
 * A load-generator process holding many WebSocket clients, for either system:
 *
 * - Townsquare: `/ws`, `{"type":"auth","token"}`, then `{"type":"subscribe","channel"}`.
 * - Socket.IO: raw Engine.IO v4 over WebSocket (`/socket.io/?EIO=4&transport=websocket`),
 *   `40` to join the main namespace, then an acked `join` event; it answers pings.
 *
 * Both connect through the same `ws` client (handshake, sending), so neither pays
 * for a heavier client library. Incoming data bypasses ws's `Receiver` for both
 * alike: from `'open'` on, the raw socket's chunks go through `FrameReader`, a
 * minimal parser for the unmasked server frames that counts a delivery by
 * looking at one or two bytes of each text frame, without copying or decoding
 * it; latency needs only the publish timestamp, found with `indexOf`. Anything
 * it does not handle itself (a close frame, fragments, binary) hands the stream
 * back to ws's `Receiver` at that frame boundary, so closing works as before.
 * Most of a client's cost is per read (syscalls and Node's stream machinery),
 * so the socket's handle also reads into one shared buffer, as `net.Socket`'s
 * `onread` option does; `BENCH_READ=stream` keeps the ordinary 'data' events.
 *
 * Driven by the orchestrator over IPC (see `bench/lib/child.ts`).
 */
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram, nowUs } from '../lib/hist.js';
import { stallMs } from '../lib/loop-stall.js';

export type System = 'townsquare' | 'socketio';

export interface ConnSpec {
  url: string;
  /** Townsquare: the JWT. */
  token?: string;
  /** Townsquare: the channel (`room:<id>`); Socket.IO: the room name. */
  room: string;
}

type Request =
  | { id: number; type: 'connect'; system: System; conns: ConnSpec[]; concurrency: number; timeoutMs?: number }
  | { id: number; type: 'reset'; marker?: string; latency?: boolean }
  | { id: number; type: 'latency'; on: boolean }
  | { id: number; type: 'ticks'; intervalMs: number }
  | { id: number; type: 'snapshot'; perSocket?: boolean }
  | { id: number; type: 'close' };

const M = 0x6d; // 'm' of {"type":"message"
const FOUR = 0x34;
const TWO = 0x32;
const ZERO = 0x30;

let sockets: WebSocket[] = [];
let perSocket = new Uint32Array(0);
let deliveries = 0;
let recordLatency = false;
let marker = Buffer.from('"t":');
const hist = new Histogram();
const closes: Record<string, number> = {};
const LOOP_RESOLUTION_MS = 5;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loop.enable();
let tickTimer: NodeJS.Timeout | null = null;

function onDelivery(index: number, data: Buffer, start: number, end: number): void {
  perSocket[index]!++;
  deliveries++;
  if (!recordLatency) return;
  const at = data.indexOf(marker, start);
  if (at < 0 || at + marker.length > end) return;
  let v = 0;
  for (let i = at + marker.length; i < end; i++) {
    const c = data[i]! - ZERO;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  hist.record(nowUs() - v);
}

/** Called with one complete text message: `data[start, end)`. */
type OnText = (data: Buffer, start: number, end: number) => void;

const USER_BUFFER = process.env.BENCH_READ !== 'stream';
const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);

/** What `ws` keeps on a client once the upgrade is done (private fields). */
interface WsInternals {
  _socket: Socket & Record<symbol, unknown>;
}

/**
 * Reads the server's frames straight from the socket in place of ws's
 * `Receiver`: server frames are unmasked, so a frame is a 2-byte header, an
 * optional 16/64-bit length and the payload. Complete text frames go to
 * `onText` as a view into the chunk (no copy); a frame split across chunks
 * waits in `carry`. Pings are answered with a pong (through ws's `Sender`).
 * Anything else (close, binary, fragmented or masked frames, RSV bits) hands
 * the rest of the stream, from that frame's first byte, back to ws's own
 * data listener and `Receiver` — which has seen no bytes since the upgrade, so
 * it starts at a frame boundary — and ws then closes the socket as usual.
 */
class FrameReader {
  private carry: Buffer | null = null;
  private handedBack = false;
  private readonly socket: Socket & Record<symbol, unknown>;
  private readonly wsOnData: (this: Socket, chunk: Buffer) => void;
  private readonly listener = (chunk: Buffer) => this.push(chunk);

  constructor(
    private readonly ws: WebSocket,
    private readonly onText: OnText,
  ) {
    this.socket = (ws as unknown as WsInternals)._socket;
    const own = this.socket.listeners('data').find((l) => l.name === 'socketOnData');
    if (!own) throw new Error("ws's socketOnData listener not found on the socket");
    this.wsOnData = own as (this: Socket, chunk: Buffer) => void;
    this.socket.removeListener('data', this.wsOnData);
    // Whatever the stream already holds (bytes that came with the upgrade response) still arrives as 'data'.
    this.socket.on('data', this.listener);
    if (USER_BUFFER) this.readIntoSharedBuffer();
  }

  /**
   * What `new net.Socket({ onread })` does, applied to the socket ws already
   * has: the handle reads into one shared buffer and hands over the byte count,
   * skipping the Buffer allocation and Readable-stream machinery of every read.
   * Frames are consumed synchronously; what must outlive the call is copied.
   */
  private readIntoSharedBuffer(): void {
    const syms = Object.getOwnPropertySymbols(this.socket);
    const kBuffer = syms.find((s) => s.description === 'kBuffer');
    const kBufferCb = syms.find((s) => s.description === 'kBufferCb');
    const handle = (this.socket as unknown as { _handle: { useUserBuffer?: (b: Uint8Array) => void } | null })._handle;
    if (!kBuffer || !kBufferCb || typeof handle?.useUserBuffer !== 'function') return;
    this.socket[kBufferCb] = (nread: number, buf: Buffer) => {
      if (this.handedBack) this.wsOnData.call(this.socket, Buffer.from(buf.subarray(0, nread)));
      else this.push(buf.subarray(0, nread));
    };
    this.socket[kBuffer] = sharedReadBuffer;
    handle.useUserBuffer(sharedReadBuffer);
  }

  private push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const len = buf.length;
    let off = 0;
    while (len - off >= 2) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      const op = b0 & 0x0f;
      // Only unmasked, unfragmented text, ping and pong frames without RSV bits are read here.
      if ((b0 & 0xf0) !== 0x80 || b1 & 0x80 || (op !== 0x1 && op !== 0x9 && op !== 0xa)) {
        this.handBack(buf.subarray(off));
        return;
      }
      let n = b1;
      let start = off + 2;
      if (n === 126) {
        if (len - off < 4) break;
        n = buf.readUInt16BE(off + 2);
        start = off + 4;
      } else if (n === 127) {
        if (len - off < 10) break;
        n = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        start = off + 10;
      }
      const end = start + n;
      if (end > len) break;
      if (op === 0x1) this.onText(buf, start, end);
      else if (op === 0x9) this.ws.pong(Buffer.from(buf.subarray(start, end)));
      off = end;
    }
    // Copied, so that a partial frame does not keep the whole chunk alive.
    if (off < len) this.carry = Buffer.from(buf.subarray(off));
  }

  private handBack(rest: Buffer): void {
    this.handedBack = true;
    this.socket.removeListener('data', this.listener);
    this.socket.on('data', this.wsOnData);
    // A copy: `rest` may be a view into the shared read buffer, and the Receiver keeps what it is given.
    this.wsOnData.call(this.socket, Buffer.from(rest));
  }
}

function connectTownsquare(spec: ConnSpec, index: number, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(spec.url, { perMessageDeflate: false, skipUTF8Validation: true });
    let state: 'auth' | 'subscribe' | 'live' = 'auth';
    const timer = setTimeout(() => fail(new Error(`timed out in ${state}`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const onText: OnText = (data, start, end) => {
      if (state === 'live') {
        if (end - start > 9 && data[start + 9] === M) onDelivery(index, data, start, end);
        return;
      }
      const frame = JSON.parse(data.toString('utf8', start, end)) as { type: string; message?: string };
      if (state === 'auth' && frame.type === 'welcome') {
        state = 'subscribe';
        ws.send(JSON.stringify({ type: 'subscribe', channel: spec.room, ref: 1 }));
      } else if (state === 'subscribe' && frame.type === 'subscribed') {
        state = 'live';
        clearTimeout(timer);
        resolve(ws);
      } else if (frame.type === 'error') {
        fail(new Error(`${frame.type}: ${frame.message}`));
      }
    };
    ws.on('open', () => {
      new FrameReader(ws, onText);
      ws.send(JSON.stringify({ type: 'auth', token: spec.token }));
    });
    ws.on('error', (err) => state !== 'live' && fail(err));
    ws.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      if (state !== 'live') fail(new Error(`closed ${code} in ${state}`));
    });
    // Only after a hand-back to ws's Receiver (see FrameReader).
    ws.on('message', (raw) => onText(raw as Buffer, 0, (raw as Buffer).length));
  });
}

function connectSocketIo(spec: ConnSpec, index: number, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const url = `${spec.url}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    let state: 'open' | 'connect' | 'join' | 'live' = 'open';
    const timer = setTimeout(() => fail(new Error(`timed out in ${state}`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const onText: OnText = (data, start, end) => {
      if (data[start] === FOUR && data[start + 1] === TWO && end - start > 1) {
        onDelivery(index, data, start, end); // 42[...]: an event
        return;
      }
      if (data[start] === TWO && end - start === 1) {
        ws.send('3'); // Engine.IO ping → pong
        return;
      }
      const text = data.toString('utf8', start, end);
      if (state === 'open' && text.startsWith('0')) {
        state = 'connect';
        ws.send('40');
      } else if (state === 'connect' && text.startsWith('40')) {
        state = 'join';
        ws.send(`421${JSON.stringify(['join', spec.room])}`);
      } else if (state === 'join' && text.startsWith('431')) {
        state = 'live';
        clearTimeout(timer);
        resolve(ws);
      } else if (text.startsWith('44')) {
        fail(new Error(`connect error ${text}`));
      }
    };
    ws.on('open', () => new FrameReader(ws, onText));
    ws.on('error', (err) => state !== 'live' && fail(err));
    ws.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      if (state !== 'live') fail(new Error(`closed ${code} in ${state}`));
    });
    // Only after a hand-back to ws's Receiver (see FrameReader).
    ws.on('message', (raw) => onText(raw as Buffer, 0, (raw as Buffer).length));
  });
}

async function connectAll(req: Extract<Request, { type: 'connect' }>) {
  const started = performance.now();
  const timeoutMs = req.timeoutMs ?? 30_000;
  sockets = new Array(req.conns.length);
  perSocket = new Uint32Array(req.conns.length);
  let next = 0;
  let failed = 0;
  const errors: string[] = [];
  const connect = req.system === 'townsquare' ? connectTownsquare : connectSocketIo;
  async function lane() {
    while (next < req.conns.length) {
      const i = next++;
      try {
        sockets[i] = await connect(req.conns[i]!, i, timeoutMs);
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push((err as Error).message);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, req.concurrency) }, lane));
  return { connected: req.conns.length - failed, failed, errors, ms: performance.now() - started };
}

async function closeAll() {
  if (tickTimer) clearInterval(tickTimer);
  tickTimer = null;
  const open = sockets.filter((ws) => ws && ws.readyState === WebSocket.OPEN);
  for (const ws of sockets) ws?.removeAllListeners('close');
  await Promise.all(
    open.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 3000);
          ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          ws.close(1000);
        }),
    ),
  );
  sockets = [];
  return { closed: open.length };
}

async function handle(req: Request): Promise<Record<string, unknown>> {
  switch (req.type) {
    case 'connect':
      return connectAll(req);
    case 'reset':
      deliveries = 0;
      perSocket.fill(0);
      hist.reset();
      loop.reset();
      for (const k of Object.keys(closes)) delete closes[k];
      if (req.marker) marker = Buffer.from(req.marker);
      if (req.latency !== undefined) recordLatency = req.latency;
      return {};
    case 'latency':
      hist.reset();
      loop.reset();
      recordLatency = req.on;
      return {};
    case 'ticks':
      if (tickTimer) clearInterval(tickTimer);
      tickTimer = req.intervalMs > 0 ? setInterval(() => process.send!({ type: 'tick', deliveries }), req.intervalMs) : null;
      return {};
    case 'snapshot':
      return {
        deliveries,
        closes: { ...closes },
        open: sockets.filter((ws) => ws?.readyState === WebSocket.OPEN).length,
        hist: hist.toJSON(),
        loopMaxMs: stallMs(loop.max, LOOP_RESOLUTION_MS),
        loopP99Ms: stallMs(loop.percentile(99), LOOP_RESOLUTION_MS),
        ...(req.perSocket && { perSocket: Array.from(perSocket) }),
      };
    case 'close':
      return closeAll();
  }
}

process.on('message', (raw) => {
  const req = raw as Request;
  handle(req).then(
    (reply) => process.send!({ ...reply, id: req.id }),
    (err: Error) => process.send!({ id: req.id, error: err.stack ?? err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
