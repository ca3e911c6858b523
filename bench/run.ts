/**
 * `npm run bench [-- options]`: Townsquare's relay side by side with
 * Socket.IO 4 + @socket.io/redis-adapter, same machine, same Redis, same run.
 * One JSON line per scenario on stdout; progress on stderr; docs/benchmarks.md
 * and docs/benchmarks-latency.svg after a full run (or with --docs).
 *
 *   --scenario fanout|latency|memory|http   (repeatable or comma-separated; default all)
 *   --quick                 short smoke run (small counts, 2 s windows; never writes docs)
 *   --rooms 10 --subs 100   fan-out layout for fanout, latency and http
 *   --workers 3             client processes
 *   --payload 100           padding bytes in each message
 *   --duration 8 --warmup 2    seconds per measurement (fanout: per in-flight window; latency/http use --lat-duration)
 *   --window 1000,200,3000  fanout: in-flight windows, each measured in turn (messages published but not yet
 *                           delivered to every subscriber before the publisher waits); the first is the headline
 *   --rates 500,2000        latency: publish rates (msg/s)
 *   --lat-duration 8        latency and http: seconds per rate
 *   --conns 5000,max        memory: idle connection counts (max = the open-file limit allows)
 *   --http-rate 200,40      http: POST /rooms/{id}/messages per second (each rate in turn)
 *   --http-alone-rate 200   http: one more run with 1 subscriber per room, the API path with little fan-out (0: skip)
 *   --docs / --no-docs      force or skip writing docs/benchmarks.md
 *   --profile DIR           run the two relays under the V8 CPU profiler (bench/peer/profiled-relay.mjs);
 *                           a .cpuprofile per relay lands in DIR when they stop
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { calibrate } from './lib/calibrate.js';
import { writeReport } from './report.js';
import { fanout } from './scenarios/fanout.js';
import { http } from './scenarios/http.js';
import { latency } from './scenarios/latency.js';
import { maxConnections, memory } from './scenarios/memory.js';
import { log, startBench } from './setup.js';

const SCENARIOS = ['fanout', 'latency', 'memory', 'http'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    rooms: { type: 'string' },
    subs: { type: 'string' },
    workers: { type: 'string' },
    payload: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    window: { type: 'string' },
    rates: { type: 'string' },
    'lat-duration': { type: 'string' },
    conns: { type: 'string' },
    'http-rate': { type: 'string' },
    'http-alone-rate': { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean' },
    profile: { type: 'string' },
  },
  strict: true,
});

const quick = values.quick;
const num = (v: string | undefined, full: number, smoke = full) => {
  if (v === undefined) return quick ? smoke : full;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${v}"`);
  return n;
};
const list = (v: string | undefined, full: string, smoke = full) => (v ?? (quick ? smoke : full)).split(',').map((s) => s.trim());

const scenarios: Scenario[] = (values.scenario ?? ['all']).flatMap((s) => s.split(',')).flatMap((s) => (s === 'all' ? [...SCENARIOS] : [s as Scenario]));
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}"; expected ${SCENARIOS.join(', ')} or all`);

const options = {
  rooms: num(values.rooms, 10, 4),
  subs: num(values.subs, 100, 25),
  workers: num(values.workers, 3, 2),
  payloadBytes: num(values.payload, 100),
};
const warmupS = num(values.warmup, 2, 1);
const windows = list(values.window, '1000,200,3000').map((w) => Math.round(num(w, 0)));
const maxConns = maxConnections();
const counts = list(values.conns, '5000,max', '1000').map((c) => (c === 'max' ? maxConns : Math.min(Number(c), maxConns)));

async function main() {
  const profileDir = values.profile ? resolve(values.profile) : undefined;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    log(`profiling the relays into ${profileDir}`);
  }
  const started = new Date();
  const before = calibrate();
  log(`calibration: the fixed workload took ${before.cpuMs} ms CPU, ${before.wallMs} ms wall (lower = faster machine)`);
  const env = await startBench({ ...options, profileDir });
  const results: Array<Record<string, unknown>> = [];
  const emit = (r: Record<string, unknown>) => {
    const line = { ...r, at: new Date().toISOString() };
    results.push(line);
    // Histograms stay out of the JSON line (they go to the plot).
    process.stdout.write(`${JSON.stringify(line, (k, v) => (k === 'hist' ? undefined : v))}\n`);
  };
  try {
    for (const s of scenarios) {
      log(`scenario ${s}`);
      if (s === 'fanout') emit(await fanout(env, { warmupS, durationS: num(values.duration, 8, 2), windows }));
      if (s === 'latency') emit(await latency(env, { rates: list(values.rates, '500,2000').map(Number), warmupS: Math.min(warmupS, 1), durationS: num(values['lat-duration'], 8, 2) }));
      if (s === 'memory') emit(await memory(env, { counts }));
      if (s === 'http') emit(await http(env, { rates: list(values['http-rate'], '200,40').map(Number), warmupS: 1, durationS: num(values['lat-duration'], 8, 2), maxInFlight: 64, apiAloneRate: values['http-alone-rate'] === '0' ? 0 : num(values['http-alone-rate'], 200) }));
    }
  } finally {
    await env.stop();
  }
  const after = calibrate();
  log(`calibration at the end: ${after.cpuMs} ms CPU, ${after.wallMs} ms wall`);
  const calibration = { before, after };
  const full = SCENARIOS.every((s) => scenarios.includes(s)) && !quick;
  if ((values.docs || full) && !values['no-docs']) {
    const files = writeReport(results, { started, quick, options, scenarios, calibration });
    log(`wrote ${files.join(', ')}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
