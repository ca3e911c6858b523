/**
 * Scenario 3, idle connection memory: N idle, subscribed connections on ONE
 * server process, started for this scenario with `--inspect=127.0.0.1:0` so a
 * full GC can be forced from outside (Chrome DevTools Protocol) before each
 * reading — no change to either server's code. RSS comes from /proc (VmRSS),
 * heap from the server's `/metrics` (`nodejs_heap_size_used_bytes`), each
 * as (after − before) / N. Connect rate is N over the time to have all of them
 * authenticated and subscribed (Townsquare: JWT check, membership read from
 * dynalite and a presence write per connection; Socket.IO: neither).
 */
import { spawnSync } from 'node:child_process';
import { startRelayProcess } from '../../local/relay-process.js';
import { sleep } from '../lib/child.js';
import { collectGarbage, debuggerUrl } from '../lib/inspector.js';
import { rssBytes } from '../lib/proc.js';
import { scrape } from '../lib/prom.js';
import { closeAll, connectLayout, log, relayEnvOf, startPeerServer, type BenchEnv, type Layout, type ServerProcess } from '../setup.js';
import type { ConnSpec, System } from '../worker/clients.js';
import { round } from './common.js';

export interface MemoryOptions {
  /** Connection counts; `max` means as many as the open-file limit allows. */
  counts: number[];
}

/** The most connections one server process can hold under the hard open-file limit, with headroom. */
export function maxConnections(): number {
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn']).stdout.toString().trim());
  const limit = Number.isFinite(hard) && hard > 0 ? hard : 1024;
  return Math.min(19_500, limit - 500);
}

async function startServer(env: BenchEnv, system: System): Promise<ServerProcess & { inspector: string }> {
  const redisUrl = env.stack.redisUrl!;
  if (system === 'socketio') {
    const p = await startPeerServer('sio-mem', redisUrl, ['--inspect=127.0.0.1:0']);
    return { ...p, inspector: debuggerUrl(p.output())! };
  }
  let output = '';
  const relay = await startRelayProcess(
    { ...relayEnvOf(env.stack), NODE_OPTIONS: '--inspect=127.0.0.1:0' },
    { log: (line) => (output += line) },
  );
  const inspector = debuggerUrl(output);
  if (!inspector) throw new Error(`no inspector URL in the relay's output:\n${output}`);
  return { name: 'relay-mem', url: relay.url, wsUrl: relay.wsUrl, pid: relay.pid, output: () => output, stop: async () => void (await relay.stop()), inspector };
}

function memoryLayout(env: BenchEnv, system: System, server: ServerProcess, n: number): Layout {
  const w = env.workers.length;
  const perWorker: ConnSpec[][] = Array.from({ length: w }, () => []);
  const roomOf: number[][] = Array.from({ length: w }, () => []);
  const rooms = env.rooms.length;
  for (let k = 0; k < n; k++) {
    const r = k % rooms;
    const room = env.rooms[r]!;
    // More connections than members: users hold several connections each.
    const user = room.members[Math.floor(k / rooms) % room.members.length]!;
    perWorker[k % w]!.push(
      system === 'townsquare' ? { url: server.wsUrl, token: env.tokens.get(user)!, room: `room:${room.id}` } : { url: server.wsUrl, room: room.id },
    );
    roomOf[k % w]!.push(r);
  }
  return { perWorker, roomOf, total: n, subs: Math.ceil(n / rooms) };
}

async function reading(server: ServerProcess & { inspector: string }) {
  await collectGarbage(server.inspector, 2);
  await sleep(500);
  const metrics = await scrape(`${server.url}/metrics`);
  return { rss: rssBytes(server.pid), heap: metrics.get('nodejs_heap_size_used_bytes') ?? Number.NaN };
}

export async function memoryOnce(env: BenchEnv, system: System, n: number) {
  const server = await startServer(env, system);
  try {
    await sleep(1000);
    const before = await reading(server);
    const l = memoryLayout(env, system, server, n);
    const connect = await connectLayout(env, system, l, 100);
    await sleep(2000);
    const after = await reading(server);
    if (connect.failed > 0) {
      const problems = server.output().split('\n').filter((line) => /"level":(40|50|60)/.test(line));
      log(`${server.name}: ${problems.length} warning/error log lines, e.g.\n${problems.slice(0, 3).join('\n')}`);
    }
    await closeAll(env);
    const per = connect.connected || 1;
    const out = {
      connections: connect.connected,
      failed: connect.failed,
      connectPerSec: connect.perSecond,
      rssBeforeMB: round(before.rss / 2 ** 20),
      rssAfterMB: round(after.rss / 2 ** 20),
      rssPerConnKB: round((after.rss - before.rss) / per / 1024, 2),
      heapBeforeMB: round(before.heap / 2 ** 20),
      heapAfterMB: round(after.heap / 2 ** 20),
      heapPerConnKB: round((after.heap - before.heap) / per / 1024, 2),
      errors: connect.errors.slice(0, 3),
    };
    log(`memory ${system} ×${n}: ${out.rssPerConnKB} KB RSS/conn, ${out.heapPerConnKB} KB heap/conn, ${out.connectPerSec} conn/s, failed ${out.failed}`);
    return out;
  } finally {
    await server.stop();
  }
}

export type MemoryResult = Awaited<ReturnType<typeof memoryOnce>>;

export async function memory(env: BenchEnv, o: MemoryOptions) {
  const socketio: MemoryResult[] = [];
  const townsquare: MemoryResult[] = [];
  for (const n of o.counts) {
    socketio.push(await memoryOnce(env, 'socketio', n));
    townsquare.push(await memoryOnce(env, 'townsquare', n));
  }
  return {
    scenario: 'memory',
    params: { counts: o.counts },
    socketio,
    townsquare,
    ratios: Object.fromEntries(
      o.counts.map((n, i) => [`rssPerConn@${n}`, round(townsquare[i]!.rssPerConnKB / socketio[i]!.rssPerConnKB, 2)]),
    ),
  };
}
