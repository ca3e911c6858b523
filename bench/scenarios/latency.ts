/**
 * Scenario 2, latency at fixed publish rates: publish → deliver time measured
 * by every subscriber (the publish time travels in the payload; all processes
 * read the same CLOCK_MONOTONIC), plus event-loop stalls of every process.
 */
import { closeAll, connectLayout, layout, log, type BenchEnv } from '../setup.js';
import type { System } from '../worker/clients.js';
import { layoutParams, measureAtRate, round } from './common.js';

export interface LatencyOptions {
  rates: number[];
  warmupS: number;
  durationS: number;
}

async function atRate(env: BenchEnv, system: System, rate: number, o: LatencyOptions, l: ReturnType<typeof layout>) {
  const servers = system === 'townsquare' ? env.relays : env.peers;
  const { hist, summary } = await measureAtRate(env, servers, l, { type: 'run', mode: 'rate', rate }, '"t":', o);
  const out = { rate, ...summary, hist };
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
    params: { ...layoutParams(env), ...o },
    socketio,
    townsquare,
    ratios: Object.fromEntries(
      o.rates.map((rate, i) => [`p99@${rate}`, round(townsquare.runs[i]!.latency.p99Ms / socketio.runs[i]!.latency.p99Ms, 2)]),
    ),
  };
}
