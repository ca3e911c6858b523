/**
 * Scenario 4, end to end through the HTTP API: `POST /rooms/{id}/messages` to
 * the local API Gateway stand-in (real handlers, dynalite, Redis publish) at a
 * fixed rate; latency from just before the request to delivery at each
 * subscriber, over both relays. Townsquare only: Socket.IO has no HTTP API.
 */
import { cpus } from 'node:os';
import { sleep } from '../lib/child.js';
import { summarize, type HistogramData } from '../lib/hist.js';
import { closeAll, connectLayout, layout, log, type BenchEnv } from '../setup.js';
import { closesOf, drain, losses, mergedHist, round, saturation, snapshots, Window } from './common.js';

export interface HttpOptions {
  rates: number[];
  warmupS: number;
  durationS: number;
  maxInFlight: number;
}

async function httpAt(env: BenchEnv, rate: number, o: HttpOptions) {
  const l = layout(env, 'townsquare', env.relays);
  const connect = await connectLayout(env, 'townsquare', l);
  const rooms = env.rooms.slice(0, env.options.rooms);
  await env.publisher.call({ type: 'init', system: 'townsquare', redisUrl: env.stack.redisUrl, rooms: rooms.map((r) => r.id), payloadBytes: env.options.payloadBytes });
  await Promise.all(env.workers.map((w) => w.call({ type: 'reset', latency: false, marker: '"text":"t=' })));
  const ownerToken = env.tokens.get(env.owner)!;
  const run = env.publisher.call<{ published: number; perRoom: number[]; errors: number; skipped: number; seconds: number; loopMaxMs: number; httpLatency: HistogramData }>(
    { type: 'run', mode: 'http', rate, apiUrl: env.stack.apiUrl, tokens: rooms.map(() => ownerToken), maxInFlight: o.maxInFlight },
    600_000,
  );
  await sleep(o.warmupS * 1000);
  await Promise.all(env.workers.map((w) => w.call({ type: 'latency', on: true })));
  const w = new Window(env, env.relays);
  await w.start();
  await sleep(o.durationS * 1000);
  await w.stop();
  await env.publisher.call({ type: 'stop' });
  const result = await run;
  await drain(env, result.published * env.options.subs, 2000, 15_000);
  const snaps = await snapshots(env, true);
  const loss = losses(l, snaps, result.perRoom);
  await closeAll(env);
  const cpu = w.cpu();
  const hist = mergedHist(snaps);
  const townsquare = {
    connections: connect.connected,
    rate,
    achievedRate: Math.round(result.published / result.seconds),
    skippedSlots: result.skipped,
    httpErrors: result.errors,
    latency: summarize(hist),
    httpResponse: summarize(result.httpLatency),
    lost: loss.lost,
    serverLoopMaxMs: w.serverLoopMaxMs(),
    clientLoopMaxMs: Object.fromEntries(snaps.map((s, i) => [env.workers[i]!.name, round(s.loopMaxMs)])),
    publisherLoopMaxMs: round(result.loopMaxMs),
    cpuPct: cpu,
    closes: closesOf(snaps),
    saturation: saturation(cpu, cpus().length),
  };
  log(`http e2e @${rate}/s: p50 ${townsquare.latency.p50Ms} p99 ${townsquare.latency.p99Ms} ms (HTTP response p99 ${townsquare.httpResponse.p99Ms} ms), lost ${townsquare.lost}, errors ${result.errors}`);
  return townsquare;
}

export async function http(env: BenchEnv, o: HttpOptions) {
  const runs: Array<Awaited<ReturnType<typeof httpAt>>> = [];
  for (const rate of o.rates) runs.push(await httpAt(env, rate, o));
  return {
    scenario: 'http',
    params: { rooms: env.options.rooms, subs: env.options.subs, payloadBytes: env.options.payloadBytes, ...o },
    socketio: null,
    townsquare: { runs },
    ratios: {},
  };
}
