/**
 * Scenario 1, fan-out throughput: R rooms × S subscribers over both servers;
 * the publisher goes as fast as the system absorbs, keeping at most `window`
 * messages published but not yet delivered to every subscriber (the in-flight
 * window). Measured once per window in `windows`, for each system in turn; a
 * system's connections are reused from one window to the next (reconnected
 * only if a window left deliveries missing or sockets closed). Every socket's
 * count is checked against what its room was sent, per window.
 */
import { cpus } from 'node:os';
import { sleep } from '../lib/child.js';
import { cpuDeltaUs } from '../lib/proc.js';
import { closeAll, connectLayout, layout, log, type BenchEnv, type Layout, type ServerProcess } from '../setup.js';
import type { System } from '../worker/clients.js';
import { closesOf, drain, layoutParams, losses, round, saturation, snapshots, Window } from './common.js';

export interface FanoutOptions {
  warmupS: number;
  /** Seconds measured per in-flight window. */
  durationS: number;
  /** In-flight windows (messages), each measured in turn; the first is the headline. */
  windows: number[];
}

/** One measurement at one in-flight window, on connections already open and subscribed. */
async function measureWindow(env: BenchEnv, servers: ServerProcess[], l: Layout, window: number, o: FanoutOptions) {
  const { subs } = env.options;
  await Promise.all(env.workers.map((w) => w.call({ type: 'reset', latency: false })));

  const delivered = env.workers.map(() => 0);
  let active = true;
  env.workers.forEach((w, i) =>
    w.onEvent((m) => {
      if (active && m.type === 'tick') delivered[i] = m.deliveries as number;
    }),
  );
  await Promise.all(env.workers.map((w) => w.call({ type: 'ticks', intervalMs: 10 })));
  const sum = () => delivered.reduce((s, d) => s + d, 0);
  const credit = setInterval(() => env.publisher.send({ type: 'credit', allowed: Math.floor(sum() / subs) + window }), 5);

  const run = env.publisher.call<{ published: number; perRoom: number[]; errors: number; seconds: number; loopMaxMs: number }>({ type: 'run', mode: 'window' }, 600_000);
  env.publisher.send({ type: 'credit', allowed: window });
  await sleep(o.warmupS * 1000);
  const w = new Window(env, servers);
  await w.start();
  const d0 = sum();
  const p0 = (await env.publisher.call<{ published: number }>({ type: 'count' })).published;
  await sleep(o.durationS * 1000);
  // The window ends at the CPU snapshot `stop()` takes synchronously; deliveries and publishes are read at
  // the same moment. Its last event-loop scrape can wait out a stalled server for many seconds (a stalled
  // Socket.IO server answered /metrics only after 10-20 s at windows ≥ 1000), and nothing published or
  // delivered meanwhile belongs to the window; stopping the publisher first lets the server catch up.
  const stopping = w.stop();
  const d1 = sum();
  const p1 = (await env.publisher.call<{ published: number }>({ type: 'count' })).published;
  await env.publisher.call({ type: 'stop' });
  const result = await run;
  clearInterval(credit);
  await stopping;
  active = false;
  await Promise.all(env.workers.map((x) => x.call({ type: 'ticks', intervalMs: 0 })));

  const expectedTotal = result.published * subs;
  const got = await drain(env, expectedTotal);
  const snaps = await snapshots(env, true);
  const loss = losses(l, snaps, result.perRoom);

  const deliveries = d1 - d0;
  const [a, b] = w.snapshots;
  const serverNames = servers.map((s) => s.name);
  const serverCpuUs = cpuDeltaUs(a, b, serverNames);
  const cpu = w.cpu();
  const publishedPerSec = Math.round((p1 - p0) / w.seconds);
  return {
    socketsOpen: snaps.reduce((s, x) => s + x.open, 0),
    windowSeconds: round(w.seconds, 2),
    publishedPerSec,
    deliveriesPerSec: Math.round(deliveries / w.seconds),
    /** Little's law: `window` messages in flight ÷ published msg/s ≈ mean publish → last delivery time. */
    meanInFlightMs: publishedPerSec > 0 ? round((window / publishedPerSec) * 1000) : null,
    published: result.published,
    expectedDeliveries: loss.expected,
    receivedDeliveries: got,
    lost: loss.lost,
    extra: loss.extra,
    socketsShort: loss.socketsShort,
    publishErrors: result.errors,
    serverCpuUsPerDelivery: round(serverCpuUs / Math.max(1, deliveries), 3),
    serverCpuPct: round(serverNames.reduce((s, n) => s + (cpu[n] ?? 0), 0)),
    cpuPct: cpu,
    serverLoopMaxMs: w.serverLoopMaxMs(),
    clientLoopMaxMs: Object.fromEntries(snaps.map((s, i) => [env.workers[i]!.name, round(s.loopMaxMs)])),
    publisherLoopMaxMs: round(result.loopMaxMs),
    closes: closesOf(snaps),
    saturation: saturation(cpu, cpus().length),
  };
}

/** Every window in turn for one system, on one set of connections where possible. */
export async function fanoutSystem(env: BenchEnv, system: System, o: FanoutOptions) {
  const { rooms } = env.options;
  const servers = system === 'townsquare' ? env.relays : env.peers;
  const l = layout(env, system, servers);
  let connect = await connectLayout(env, system, l);
  await env.publisher.call({ type: 'init', system, redisUrl: env.stack.redisUrl, rooms: env.rooms.slice(0, rooms).map((r) => r.id), payloadBytes: env.options.payloadBytes });
  const out = [];
  let fresh = true;
  for (const window of o.windows) {
    const m = await measureWindow(env, servers, l, window, o);
    out.push({ window, connections: connect.connected, connectFailed: connect.failed, freshConnections: fresh, ...m });
    log(`fanout ${system} window ${window}: ${m.deliveriesPerSec} deliveries/s, ${m.publishedPerSec} msg/s, lost ${m.lost}, ${m.serverCpuUsPerDelivery} µs server CPU/delivery, server loop max ${Math.max(0, ...Object.values(m.serverLoopMaxMs))} ms, busiest ${m.saturation.busiest} ${m.saturation.busiestPct}%`);
    fresh = false;
    // Deliveries still on their way (or closed sockets) would spill into the next window's counts.
    if (window !== o.windows.at(-1) && (m.lost > 0 || m.socketsOpen < connect.connected)) {
      log(`fanout ${system}: reconnecting before the next window (lost ${m.lost}, ${m.socketsOpen}/${connect.connected} sockets open)`);
      await closeAll(env);
      connect = await connectLayout(env, system, l);
      fresh = true;
    }
  }
  await closeAll(env);
  return out;
}

export async function fanout(env: BenchEnv, o: FanoutOptions) {
  const socketio = await fanoutSystem(env, 'socketio', o);
  const townsquare = await fanoutSystem(env, 'townsquare', o);
  return {
    scenario: 'fanout',
    params: { ...layoutParams(env), ...o },
    /** One entry per in-flight window, in `params.windows` order (the first is the headline). */
    runs: o.windows.map((window, i) => {
      const s = socketio[i]!, t = townsquare[i]!;
      return {
        window,
        socketio: s,
        townsquare: t,
        ratios: {
          deliveriesPerSec: round(t.deliveriesPerSec / s.deliveriesPerSec, 2),
          serverCpuUsPerDelivery: round(t.serverCpuUsPerDelivery / s.serverCpuUsPerDelivery, 2),
        },
      };
    }),
  };
}
