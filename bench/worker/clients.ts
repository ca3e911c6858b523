/**
 * A load-generator process holding many WebSocket clients, for either system:
 *
 * - Townsquare: `/ws`, `{"type":"auth","token"}`, then `{"type":"subscribe","channel"}`.
 * - Socket.IO: raw Engine.IO v4 over WebSocket (`/socket.io/?EIO=4&transport=websocket`),
 *   `40` to join the main namespace, then an acked `join` event; it answers pings.
 *
 * Both speak through the same `ws` client, so neither pays for a heavier client
 * library. Deliveries are counted by looking at one or two bytes of each frame,
 * and latency needs only the publish timestamp, found with `indexOf`.
 *
 * Driven by the orchestrator over IPC (see `bench/lib/child.ts`).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram, nowUs } from '../lib/hist.js';

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
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
let tickTimer: NodeJS.Timeout | null = null;

function onDelivery(index: number, data: Buffer): void {
  perSocket[index]!++;
  deliveries++;
  if (!recordLatency) return;
  const at = data.indexOf(marker);
  if (at < 0) return;
  let v = 0;
  for (let i = at + marker.length; i < data.length; i++) {
    const c = data[i]! - ZERO;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  hist.record(nowUs() - v);
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
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: spec.token })));
    ws.on('error', (err) => state !== 'live' && fail(err));
    ws.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      if (state !== 'live') fail(new Error(`closed ${code} in ${state}`));
    });
    ws.on('message', (raw) => {
      const data = raw as Buffer;
      if (state === 'live') {
        if (data[9] === M) onDelivery(index, data);
        return;
      }
      const frame = JSON.parse(data.toString()) as { type: string; message?: string };
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
    });
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
    ws.on('error', (err) => state !== 'live' && fail(err));
    ws.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      if (state !== 'live') fail(new Error(`closed ${code} in ${state}`));
    });
    ws.on('message', (raw) => {
      const data = raw as Buffer;
      if (data[0] === FOUR && data[1] === TWO) {
        onDelivery(index, data); // 42[...]: an event
        return;
      }
      if (data[0] === TWO && data.length === 1) {
        ws.send('3'); // Engine.IO ping → pong
        return;
      }
      const text = data.toString();
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
    });
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
        loopMaxMs: loop.max / 1e6,
        loopP99Ms: loop.percentile(99) / 1e6,
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
