/**
 * Everything the scenarios share: the Townsquare local stack (dynalite, the
 * HTTP API, Redis, two relay processes from the production bundle), two
 * Socket.IO peer processes on the same Redis, rooms with members created
 * through the HTTP API, tokens, and the load-generator processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { freePort } from '../local/redis-server.js';
import { RELAY_BUNDLE, startRelayProcess } from '../local/relay-process.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { forkTs, sleep, type BenchChild } from './lib/child.js';
import { findRedisPid, type Pids } from './lib/proc.js';
import type { ConnSpec, System } from './worker/clients.js';

export const log = (...parts: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...parts);

export interface ServerProcess {
  name: string;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** What clients connect to: the relay's `/ws` URL, or the Socket.IO server's `ws://` base. */
  wsUrl: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** The process running the local HTTP API and dynalite: this one. */
export const API_PROCESS = 'orchestrator (api+dynalite)';

export const PEER_SERVER = resolve('bench/peer/socketio-server.mjs');
const PROFILED_RELAY = resolve('bench/peer/profiled-relay.mjs');

/**
 * The relay environment `startLocalStack` gives its relays, with the per-address cap
 * lifted: every benchmark client connects from 127.0.0.1.
 */
export function relayEnvOf(stack: LocalStack): Record<string, string> {
  return { ...stack.relayEnv, MAX_CONNECTIONS_PER_IP: String(1_000_000) };
}

/** Starts the Socket.IO peer as a process and waits for `/healthz`. */
export async function startPeerServer(name: string, redisUrl: string, nodeFlags: string[] = []): Promise<ServerProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, PEER_SERVER], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not become healthy:\n${output}`);
    }
    await sleep(50);
  }
  return {
    name,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface BenchOptions {
  rooms: number;
  subs: number;
  workers: number;
  payloadBytes: number;
  /** Run the two Townsquare relays under the CPU profiler, writing profiles to this folder. */
  profileDir?: string;
}

export interface Room {
  id: string;
  members: string[];
}

export interface BenchEnv {
  options: BenchOptions;
  stack: LocalStack;
  relays: ServerProcess[];
  peers: ServerProcess[];
  redisPid: number | null;
  rooms: Room[];
  owner: string;
  tokens: Map<string, string>;
  workers: BenchChild[];
  publisher: BenchChild;
  /** Every process worth watching, by name. */
  pids(): Pids;
  stop(): Promise<void>;
}

export interface Layout {
  /** Connection specs per worker. */
  perWorker: ConnSpec[][];
  /** Room index of each worker's connection i. */
  roomOf: number[][];
  total: number;
  /** Subscribers per room. */
  subs: number;
}

/** R rooms × S subscribers, spread round-robin over `servers` and over the workers. */
export function layout(env: BenchEnv, system: System, servers: ServerProcess[], rooms = env.options.rooms, subs = env.options.subs): Layout {
  const w = env.workers.length;
  const perWorker: ConnSpec[][] = Array.from({ length: w }, () => []);
  const roomOf: number[][] = Array.from({ length: w }, () => []);
  for (let r = 0; r < rooms; r++) {
    const room = env.rooms[r]!;
    for (let i = 0; i < subs; i++) {
      const k = r * subs + i;
      const server = servers[k % servers.length]!;
      const user = room.members[i % room.members.length]!;
      perWorker[k % w]!.push(
        system === 'townsquare'
          ? { url: server.wsUrl, token: env.tokens.get(user)!, room: `room:${room.id}` }
          : { url: server.wsUrl, room: room.id },
      );
      roomOf[k % w]!.push(r);
    }
  }
  return { perWorker, roomOf, total: rooms * subs, subs };
}

export async function connectLayout(env: BenchEnv, system: System, l: Layout, concurrency = 50) {
  const started = performance.now();
  const results = await Promise.all(
    env.workers.map((w, i) => w.call<{ connected: number; failed: number; errors: string[] }>({ type: 'connect', system, conns: l.perWorker[i], concurrency }, 300_000)),
  );
  const ms = performance.now() - started;
  const connected = results.reduce((s, r) => s + r.connected, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const errors = results.flatMap((r) => r.errors);
  if (failed > 0) log(`${system}: ${failed} of ${l.total} connections failed, e.g. ${errors.slice(0, 3).join(' | ')}`);
  return { connected, failed, errors, ms, perSecond: Math.round((connected / ms) * 1000) };
}

export async function closeAll(env: BenchEnv): Promise<void> {
  await Promise.all(env.workers.map((w) => w.call({ type: 'close' }, 120_000)));
}

async function api<T>(env: { stack: LocalStack }, token: string, method: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${env.stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function startBench(options: BenchOptions): Promise<BenchEnv> {
  log(`machine: ${cpus().length} cores, node ${process.version}`);
  // The handlers run in this process and log to stdout, which carries the JSON results.
  process.env.LOG_LEVEL ??= 'error';
  // The stack builds the bundle and starts dynalite, Redis and the API; the two relays are
  // started below with the same environment and the same `startRelayProcess`, so that the
  // profiling variant can swap the entry file.
  // The build's progress goes to stderr: stdout carries only the JSON results.
  const build = spawnSync(process.execPath, ['socket-relay/build.mjs', RELAY_BUNDLE], { stdio: ['ignore', 2, 2] });
  if (build.status !== 0) throw new Error('building the relay bundle failed');
  // One owner creates every room: let it own more than the default cap allows.
  process.env.MAX_ROOMS_PER_USER ??= String(Math.max(1000, options.rooms + 1));
  const stack = await startLocalStack({ relays: 0, buildRelay: false });
  if (!stack.redisUrl) {
    await stack.stop();
    throw new Error('the benchmark needs redis-server on the PATH (or REDIS_URL)');
  }
  const stops: Array<() => Promise<unknown>> = [() => stack.stop()];
  try {
    const relays: ServerProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await startRelayProcess(
        { ...relayEnvOf(stack), ...(options.profileDir && { RELAY_PROFILE_DIR: options.profileDir }) },
        { bundle: options.profileDir ? PROFILED_RELAY : undefined, log: (line) => void (process.env.BENCH_VERBOSE && process.stderr.write(line)) },
      );
      stops.push(() => r.stop());
      relays.push({ name: `relay-${i + 1}`, url: r.url, wsUrl: r.wsUrl, pid: r.pid, output: () => '', stop: async () => void (await r.stop()) });
    }
    const peers: ServerProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const p = await startPeerServer(`sio-${i + 1}`, stack.redisUrl);
      stops.push(() => p.stop());
      peers.push(p);
    }
    const redisPid = findRedisPid(Number(new URL(stack.redisUrl).port));
    log(`stack up: api ${stack.apiUrl}, relays ${relays.map((r) => r.wsUrl).join(' ')}, socket.io ${peers.map((p) => p.url).join(' ')}, redis ${stack.redisUrl} (pid ${redisPid})`);

    // Rooms and memberships through the HTTP API, so the relays' membership checks pass.
    const owner = 'bench-owner';
    const tokens = new Map<string, string>();
    const mint = async (user: string) => tokens.set(user, await stack.issuer.mint(user, { ttlSeconds: 6 * 3600 }));
    await mint(owner);
    const rooms: Room[] = [];
    const t0 = performance.now();
    for (let r = 0; r < options.rooms; r++) {
      const { roomId } = await api<{ roomId: string }>({ stack }, tokens.get(owner)!, 'POST', '/rooms', { name: `bench ${r}` });
      rooms.push({ id: roomId, members: Array.from({ length: options.subs }, (_, i) => `u-${r}-${i}`) });
    }
    const adds = rooms.flatMap((room) => room.members.map((userId) => ({ room, userId })));
    await pool(adds, 16, async ({ room, userId }) => {
      await api({ stack }, tokens.get(owner)!, 'POST', `/rooms/${room.id}/members`, { userId });
      await mint(userId);
    });
    log(`${rooms.length} rooms, ${adds.length} memberships via the HTTP API in ${Math.round(performance.now() - t0)} ms`);

    const workers = Array.from({ length: options.workers }, (_, i) => forkTs(`client-${i + 1}`, 'bench/worker/clients.ts'));
    const publisher = forkTs('publisher', 'bench/worker/publisher.ts');
    for (const c of [...workers, publisher]) stops.push(() => c.stop());

    return {
      options,
      stack,
      relays,
      peers,
      redisPid,
      rooms,
      owner,
      tokens,
      workers,
      publisher,
      pids() {
        const pids: Pids = {};
        for (const s of [...relays, ...peers]) pids[s.name] = s.pid;
        if (redisPid) pids['redis'] = redisPid;
        pids['publisher'] = publisher.pid;
        for (const w of workers) pids[w.name] = w.pid;
        pids[API_PROCESS] = process.pid;
        return pids;
      },
      async stop() {
        for (const s of stops.reverse()) await s().catch(() => {});
      },
    };
  } catch (err) {
    for (const s of stops.reverse()) await s().catch(() => {});
    throw err;
  }
}
