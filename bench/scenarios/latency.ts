/**
 * Scenario 2, latency at fixed publish rates: publish → deliver time measured
 * by every subscriber (the publish time travels in the payload; all processes
 * read the same CLOCK_MONOTONIC), plus event-loop stalls of every process.
 */
import { cpus } from 'node:os';
import { sleep } from '../lib/child.js';
import { summarize, type HistogramData } from '../lib/hist.js';
import { closeAll, connectLayout, layout, log, type BenchEnv } from '../setup.js';
import type { System } from '../worker/clients.js';
import { closesOf, drain, losses, mergedHist, round, saturation, snapshots, Window } from './common.js';

export interface LatencyOptions {
  rates: number[];
  warmupS: number;
  durationS: number;
}

async function atRate(env: BenchEnv, system: System, rate: number, o: LatencyOptions, l: ReturnType<typeof layout>) {
  const servers = system === 'townsquare' ? env.relays : env.peers;
  await Promise.all(env.workers.map((w) => w.call({ type: 'reset', latency: false, marker: '"t":' })));
  const run = env.publisher.call<{ published: number; perRoom: number[]; errors: number; skipped: number; seconds: number; loopMaxMs: number }>(
    { type: 'run', mode: 'rate', rate },
    600_000,
  );
  await sleep(o.warmupS * 1000);
  await Promise.all(env.workers.map((w) => w.call({ type: 'latency', on: true })));
  const w = new Window(env, servers);
  await w.start();
  await sleep(o.durationS * 1000);
  await w.stop();
  await env.publisher.call({ type: 'stop' });
  const result = await run;
  await drain(env, result.published * env.options.subs, 2000, 15_000);
  const snaps = await snapshots(env, true);
  const loss = losses(l, snaps, result.perRoom);
  const hist: HistogramData = mergedHist(snaps);
  const cpu = w.cpu();
  const out = {
    rate,
    achievedRate: Math.round(result.published / result.seconds),
    skippedSlots: result.skipped,
    latency: summarize(hist),
    lost: loss.lost,
    serverLoopMaxMs: w.serverLoopMaxMs(),
    serverLoopP99Ms: w.serverLoopP99Ms(),
    clientLoopMaxMs: Object.fromEntries(snaps.map((s, i) => [env.workers[i]!.name, round(s.loopMaxMs)])),
    publisherLoopMaxMs: round(result.loopMaxMs),
    cpuPct: cpu,
    closes: closesOf(snaps),
    saturation: saturation(cpu, cpus().length),
    hist,
  };
  log(`latency ${system} @${rate}/s: p50 ${out.latency.p50Ms} p99 ${out.latency.p99Ms} max ${out.latency.maxMs} ms, lost ${out.lost}, server loop max ${JSON.stringify(out.serverLoopMaxMs)}`);
  return out;
}

export async function latencyFor(env: BenchEnv, system: System, o: LatencyOptions) {
  const servers = system === 'townsquare' ? env.relays : env.peers;
  const l = layout(env, system, servers);
  const connect = await connectLayout(env, system, l);
  await env.publisher.call({ type: 'init', system, redisUrl: env.stack.redisUrl, rooms: env.rooms.slice(0, env.options.rooms).map((r) => r.id), payloadBytes: env.options.payloadBytes });
  const runs: Array<Awaited<ReturnType<typeof atRate>>> = [];
  for (const rate of o.rates) runs.push(await atRate(env, system, rate, o, l));
  await closeAll(env);
  return { connections: connect.connected, runs };
}

export async function latency(env: BenchEnv, o: LatencyOptions) {
  const socketio = await latencyFor(env, 'socketio', o);
  const townsquare = await latencyFor(env, 'townsquare', o);
  return {
    scenario: 'latency',
    params: { rooms: env.options.rooms, subs: env.options.subs, payloadBytes: env.options.payloadBytes, ...o },
    socketio,
    townsquare,
    ratios: Object.fromEntries(
      o.rates.map((rate, i) => [`p99@${rate}`, round(townsquare.runs[i]!.latency.p99Ms / socketio.runs[i]!.latency.p99Ms, 2)]),
    ),
  };
}
