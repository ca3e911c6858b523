/**
 * Scenario 4, end to end through the HTTP API: `POST /rooms/{id}/messages` to
 * the local API Gateway stand-in (real handlers, dynalite, Redis publish) at a
 * fixed rate; latency from just before the request to delivery at each
 * subscriber, over both relays. Townsquare only: Socket.IO has no HTTP API.
 */
import { summarize } from '../lib/hist.js';
import { API_PROCESS, closeAll, connectLayout, layout, log, type BenchEnv } from '../setup.js';
import { layoutParams, measureAtRate, round } from './common.js';

export interface HttpOptions {
  rates: number[];
  warmupS: number;
  durationS: number;
  maxInFlight: number;
  /** Also measure at this rate with one subscriber per room: the API path with almost no fan-out (0: skip). */
  apiAloneRate: number;
}

async function httpAt(env: BenchEnv, rate: number, o: HttpOptions, subs = env.options.subs) {
  const l = layout(env, 'townsquare', env.relays, env.options.rooms, subs);
  const connect = await connectLayout(env, 'townsquare', l);
  const rooms = env.rooms.slice(0, env.options.rooms);
  await env.publisher.call({ type: 'init', system: 'townsquare', redisUrl: env.stack.redisUrl, rooms: rooms.map((r) => r.id), payloadBytes: env.options.payloadBytes });
  const ownerToken = env.tokens.get(env.owner)!;
  const request = { type: 'run', mode: 'http', rate, apiUrl: env.stack.apiUrl, tokens: rooms.map(() => ownerToken), maxInFlight: o.maxInFlight };
  const { result, cpu, summary } = await measureAtRate(env, env.relays, l, request, '"text":"t=', o);
  await closeAll(env);
  const townsquare = {
    subsPerRoom: subs,
    connections: connect.connected,
    rate,
    ...summary,
    httpErrors: result.errors,
    /** CPU of the API process (handlers, AWS SDK, dynalite's thread) per message sent. */
    apiCpuMsPerSend: round((cpu[API_PROCESS] ?? Number.NaN) * 10 / (result.published / result.seconds), 2),
    httpResponse: summarize(result.httpLatency!), // the publisher reports it in http mode
  };
  log(`http e2e @${rate}/s, ${subs} per room: p50 ${townsquare.latency.p50Ms} p99 ${townsquare.latency.p99Ms} ms (HTTP response p99 ${townsquare.httpResponse.p99Ms} ms), lost ${townsquare.lost}, errors ${result.errors}`);
  return townsquare;
}

export async function http(env: BenchEnv, o: HttpOptions) {
  const runs: Array<Awaited<ReturnType<typeof httpAt>>> = [];
  for (const rate of o.rates) runs.push(await httpAt(env, rate, o));
  const apiAlone = o.apiAloneRate > 0 ? await httpAt(env, o.apiAloneRate, o, 1) : null;
  return {
    scenario: 'http',
    params: { ...layoutParams(env), ...o },
    socketio: null,
    townsquare: { runs, apiAlone },
    ratios: {},
  };
}
