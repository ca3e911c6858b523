/**
 * The publisher process. Each system gets its honest equivalent of "publish
 * to the Redis channel" from a process that holds no client sockets:
 *
 * - Townsquare: `PUBLISH room:<id> <envelope JSON>` — the very `MessageEnvelope`
 *   the send-message function publishes after storing a message.
 * - Socket.IO: `@socket.io/redis-emitter` `emitter.to(room).emit('m', data)` —
 *   the supported way for a non-server process to broadcast; it PUBLISHes one
 *   msgpack packet that every server's redis adapter receives.
 * - `http` mode: `POST /rooms/{id}/messages` to the local API (Townsquare only).
 *
 * Modes: a fixed rate, or "window" (as fast as the system absorbs: publish while
 * the orchestrator's credit — deliveries seen plus a window — allows).
 * Every message carries the publish time (`nowUs()`, CLOCK_MONOTONIC µs).
 */
import { Agent, request as httpRequest } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { encodeEnvelope, ENVELOPE_VERSION, MessageEnvelope, roomChannel } from '../../protocol/index.js';
import { Histogram, nowUs } from '../lib/hist.js';
import { stallMs } from '../lib/loop-stall.js';
import type { System } from './clients.js';

type Request =
  | { id: number; type: 'init'; system: System; redisUrl: string; rooms: string[]; payloadBytes: number }
  | { id: number; type: 'run'; mode: 'rate'; rate: number }
  | { id: number; type: 'run'; mode: 'window' }
  | { id: number; type: 'run'; mode: 'http'; rate: number; apiUrl: string; tokens: string[]; maxInFlight: number }
  | { id: number; type: 'count' }
  | { id: number; type: 'stop' };

type Credit = { type: 'credit'; allowed: number };

let system: System = 'townsquare';
let rooms: string[] = [];
let pad = '';
let redis: Redis | null = null;
let emitter: Emitter | null = null;
let seqs: number[] = [];
let perRoom: number[] = [];
let published = 0;
let errors = 0;
let allowed = 0;
let running = false;
let startedAt = 0;
let stoppedAt = 0;
let pumping = false;
let inFlight = 0;
let skipped = 0;
const httpLatency = new Histogram();
const httpAgent = new Agent({ keepAlive: true });
const LOOP_RESOLUTION_MS = 5;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
let runResolve: (() => void) | null = null;
/** Makes clientMessageIds unique across runs (a reused id with another text is a 409). */
let runId = '';
let httpRun: { apiUrl: string; tokens: string[]; maxInFlight: number } | null = null;

function publishOne(): void {
  const r = published % rooms.length;
  const room = rooms[r]!;
  const seq = ++seqs[r]!;
  published++;
  perRoom[r]!++;
  const t = nowUs();
  if (httpRun) return void postOne(r, room, t);
  if (system === 'townsquare') {
    const envelope: MessageEnvelope = {
      v: ENVELOPE_VERSION,
      kind: 'message',
      channel: roomChannel(room),
      seq,
      id: `b-${r}-${seq}`,
      event: 'message.created',
      data: { t, p: pad },
      ts: Date.now(),
    };
    redis!.publish(envelope.channel, encodeEnvelope(envelope)).catch(() => errors++);
  } else {
    emitter!.to(room).emit('m', { t, p: pad });
  }
}

function postOne(r: number, room: string, t: number): void {
  if (inFlight >= httpRun!.maxInFlight) {
    skipped++;
    published--;
    perRoom[r]!--;
    seqs[r]!--;
    return;
  }
  inFlight++;
  const seq = seqs[r]!;
  const body = JSON.stringify({ text: `t=${t} ${pad}`, clientMessageId: `b-${runId}-${r}-${seq}` });
  // node:http with a keep-alive agent: undici's fetch costs several times more CPU per request,
  // which would make the load generator, not the API, the thing measured.
  const req = httpRequest(
    `${httpRun!.apiUrl}/rooms/${room}/messages`,
    {
      method: 'POST',
      agent: httpAgent,
      headers: { authorization: `Bearer ${httpRun!.tokens[r]}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      res.resume();
      res.once('end', () => {
        stored = res.statusCode === 201;
        if (stored) httpLatency.record(nowUs() - t);
      });
    },
  );
  let stored = false;
  // 'close' comes once per request whatever happened (also when the connection
  // dropped mid-response, which fires neither 'end' nor 'error').
  req.once('error', () => {});
  req.once('close', () => {
    inFlight--;
    if (!stored) errors++;
  });
  req.end(body);
}

function pump(): void {
  pumping = false;
  if (!running) return;
  let batch = 0;
  while (published < allowed && batch < 500) {
    publishOne();
    batch++;
  }
  if (published < allowed) schedulePump();
}

function schedulePump(): void {
  if (pumping) return;
  pumping = true;
  setImmediate(pump);
}

/** Slots of the fixed-rate schedule already passed (published or skipped). */
let scheduleCursor = 0;

function runRate(rate: number): void {
  const maxBacklog = Math.max(1, Math.floor(rate / 10));
  const tick = () => {
    if (!running) return;
    const due = Math.floor(((performance.now() - startedAt) * rate) / 1000);
    // Never burst more than 100 ms of backlog at once: a stalled publisher shows as skipped slots.
    if (due - scheduleCursor > maxBacklog) {
      skipped += due - scheduleCursor - maxBacklog;
      scheduleCursor = due - maxBacklog;
    }
    while (scheduleCursor < due) {
      publishOne();
      scheduleCursor++;
    }
    setTimeout(tick, 1);
  };
  tick();
}

async function handle(req: Request | Credit): Promise<Record<string, unknown> | null> {
  switch (req.type) {
    case 'credit':
      allowed = req.allowed;
      if (running) schedulePump();
      return null;
    case 'init': {
      system = req.system;
      rooms = req.rooms;
      pad = 'x'.repeat(Math.max(0, req.payloadBytes));
      seqs = rooms.map(() => 0);
      redis?.disconnect();
      redis = new Redis(req.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
      emitter = req.system === 'socketio' ? new Emitter(redis) : null;
      await redis.ping();
      MessageEnvelope.parse(JSON.parse(encodeEnvelope({ v: 1, kind: 'message', channel: 'room:x', seq: 1, id: 'x', event: 'e', data: {}, ts: 0 })));
      return {};
    }
    case 'run':
      perRoom = rooms.map(() => 0);
      published = errors = skipped = scheduleCursor = 0;
      allowed = 0;
      httpLatency.reset();
      loop.reset();
      loop.enable();
      runId = Date.now().toString(36);
      running = true;
      startedAt = performance.now();
      httpRun = req.mode === 'http' ? { apiUrl: req.apiUrl, tokens: req.tokens, maxInFlight: req.maxInFlight } : null;
      if (req.mode === 'rate' || req.mode === 'http') runRate(req.rate);
      else schedulePump();
      await new Promise<void>((r) => (runResolve = r));
      // wait for HTTP requests still in flight
      const deadline = Date.now() + 10_000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      loop.disable();
      return {
        published,
        perRoom,
        errors,
        skipped,
        seconds: (stoppedAt - startedAt) / 1000,
        loopMaxMs: stallMs(loop.max, LOOP_RESOLUTION_MS),
        ...(httpRun && { httpLatency: httpLatency.toJSON() }),
      };
    case 'count':
      return { published };
    case 'stop':
      running = false;
      stoppedAt = performance.now();
      runResolve?.();
      return {};
  }
}

process.on('message', (raw) => {
  const req = raw as Request | Credit;
  handle(req).then(
    (reply) => reply && process.send!({ ...reply, id: (req as Request).id }),
    (err: Error) => process.send!({ id: (req as Request).id, error: err.stack ?? err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
