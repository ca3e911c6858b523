/**
 * Scenario 1, fan-out throughput: R rooms × S subscribers over both servers;
 * the publisher goes as fast as the system absorbs, keeping at most `window`
 * messages' worth of deliveries outstanding. Every socket's count is checked
 * against what its room was sent.
 */
import { cpus } from 'node:os';
import { sleep } from '../lib/child.js';
import { cpuDeltaUs } from '../lib/proc.js';
import { closeAll, connectLayout, layout, log, type BenchEnv } from '../setup.js';
import type { System } from '../worker/clients.js';
import { closesOf, drain, losses, round, saturation, snapshots, Window } from './common.js';

export interface FanoutOptions {
  warmupS: number;
  durationS: number;
  window: number;
}

export async function fanoutOnce(env: BenchEnv, system: System, o: FanoutOptions) {
  const { rooms, subs } = env.options;
  const servers = system === 'townsquare' ? env.relays : env.peers;
  const l = layout(env, system, servers);
  const connect = await connectLayout(env, system, l);
  await env.publisher.call({ type: 'init', system, redisUrl: env.stack.redisUrl, rooms: env.rooms.slice(0, rooms).map((r) => r.id), payloadBytes: env.options.payloadBytes });
  await Promise.all(env.workers.map((w) => w.call({ type: 'reset', latency: false })));

  const delivered = env.workers.map(() => 0);
  const listeners = env.workers.map((w, i) => (m: Record<string, unknown>) => {
    if (m.type === 'tick') delivered[i] = m.deliveries as number;
  });
  let active = true;
  env.workers.forEach((w, i) => w.onEvent((m) => active && listeners[i]!(m)));
  await Promise.all(env.workers.map((w) => w.call({ type: 'ticks', intervalMs: 10 })));
  const sum = () => delivered.reduce((s, d) => s + d, 0);
  const credit = setInterval(() => env.publisher.send({ type: 'credit', allowed: Math.floor(sum() / subs) + o.window }), 5);

  const run = env.publisher.call<{ published: number; perRoom: number[]; errors: number; seconds: number; loopMaxMs: number }>({ type: 'run', mode: 'window' }, 600_000);
  env.publisher.send({ type: 'credit', allowed: o.window });
  await sleep(o.warmupS * 1000);
  const w = new Window(env, servers);
  await w.start();
  const d0 = sum();
  const p0 = (await env.publisher.call<{ published: number }>({ type: 'count' })).published;
  await sleep(o.durationS * 1000);
  await w.stop();
  const d1 = sum();
  const p1 = (await env.publisher.call<{ published: number }>({ type: 'count' })).published;
  await env.publisher.call({ type: 'stop' });
  const result = await run;
  clearInterval(credit);
  active = false;
  await Promise.all(env.workers.map((x) => x.call({ type: 'ticks', intervalMs: 0 })));

  const expectedTotal = result.published * subs;
  const got = await drain(env, expectedTotal);
  const snaps = await snapshots(env, true);
  const loss = losses(l, snaps, result.perRoom);
  await closeAll(env);

  const deliveries = d1 - d0;
  const [a, b] = w.snapshots;
  const serverNames = servers.map((s) => s.name);
  const serverCpuUs = cpuDeltaUs(a, b, serverNames);
  const cpu = w.cpu();
  const out = {
    connections: connect.connected,
    connectFailed: connect.failed,
    windowSeconds: round(w.seconds, 2),
    publishedPerSec: Math.round((p1 - p0) / w.seconds),
    deliveriesPerSec: Math.round(deliveries / w.seconds),
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
  log(`fanout ${system}: ${out.deliveriesPerSec} deliveries/s, ${out.publishedPerSec} msg/s, lost ${out.lost}, ${out.serverCpuUsPerDelivery} µs server CPU/delivery, busiest ${out.saturation.busiest} ${out.saturation.busiestPct}%`);
  return out;
}

export async function fanout(env: BenchEnv, o: FanoutOptions) {
  const socketio = await fanoutOnce(env, 'socketio', o);
  const townsquare = await fanoutOnce(env, 'townsquare', o);
  return {
    scenario: 'fanout',
    params: { rooms: env.options.rooms, subs: env.options.subs, payloadBytes: env.options.payloadBytes, ...o },
    socketio,
    townsquare,
    ratios: {
      deliveriesPerSec: round(townsquare.deliveriesPerSec / socketio.deliveriesPerSec, 2),
      serverCpuUsPerDelivery: round(townsquare.serverCpuUsPerDelivery / socketio.serverCpuUsPerDelivery, 2),
    },
  };
}
