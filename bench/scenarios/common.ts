/** Helpers the scenarios share: watching processes during a window, draining, counting losses. */
import { cpus } from 'node:os';
import { sleep } from '../lib/child.js';
import { mergeHistograms, summarize, type HistogramData } from '../lib/hist.js';
import { cpuPercent, cpuSnapshot, MACHINE, OUTSIDE, type CpuSnapshot } from '../lib/proc.js';
import { LoopLagWatcher } from '../lib/prom.js';
import type { BenchEnv, Layout, ServerProcess } from '../setup.js';

export interface WorkerSnapshot {
  deliveries: number;
  closes: Record<string, number>;
  open: number;
  hist: HistogramData;
  loopMaxMs: number;
  loopP99Ms: number;
  perSocket?: number[];
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function snapshots(env: BenchEnv, perSocket = false): Promise<WorkerSnapshot[]> {
  return Promise.all(env.workers.map((w) => w.call<WorkerSnapshot>({ type: 'snapshot', perSocket })));
}

export async function totalDeliveries(env: BenchEnv): Promise<number> {
  return (await snapshots(env)).reduce((s, x) => s + x.deliveries, 0);
}

/** Waits until `expected` deliveries arrived, or nothing arrived for `quietMs`. */
export async function drain(env: BenchEnv, expected: number, quietMs = 2000, maxMs = 15_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const d = await totalDeliveries(env);
    if (d >= expected) return d;
    if (d !== last) {
      last = d;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs || Date.now() > deadline) {
      return d;
    }
    await sleep(100);
  }
}

/** Per-connection accounting: what each socket got against what its room was sent. */
export function losses(l: Layout, snaps: WorkerSnapshot[], perRoom: number[]) {
  let expected = 0;
  let lost = 0;
  let extra = 0;
  let socketsShort = 0;
  snaps.forEach((snap, w) => {
    const counts = snap.perSocket ?? [];
    l.roomOf[w]!.forEach((room, i) => {
      const want = perRoom[room] ?? 0;
      const got = counts[i] ?? 0;
      expected += want;
      if (got < want) {
        lost += want - got;
        socketsShort++;
      } else extra += got - want;
    });
  });
  return { expected, lost, extra, socketsShort };
}

export function closesOf(snaps: WorkerSnapshot[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of snaps) for (const [code, n] of Object.entries(s.closes)) out[code] = (out[code] ?? 0) + n;
  return out;
}

export function mergedHist(snaps: WorkerSnapshot[]): HistogramData {
  return mergeHistograms(snaps.map((s) => s.hist));
}

/** A measurement window: CPU of every process and event-loop lag of the servers. */
export class Window {
  private a: CpuSnapshot | null = null;
  private b: CpuSnapshot | null = null;
  private readonly lag: LoopLagWatcher;

  constructor(
    private readonly env: BenchEnv,
    servers: ServerProcess[],
  ) {
    this.lag = new LoopLagWatcher(Object.fromEntries(servers.map((s) => [s.name, `${s.url}/metrics`])));
  }

  async start(): Promise<void> {
    await this.lag.start(1000);
    this.a = cpuSnapshot(this.env.pids());
  }

  async stop(): Promise<void> {
    this.b = cpuSnapshot(this.env.pids());
    await this.lag.stop();
  }

  get seconds(): number {
    return (this.b!.at - this.a!.at) / 1000;
  }

  get snapshots(): [CpuSnapshot, CpuSnapshot] {
    return [this.a!, this.b!];
  }

  cpu(): Record<string, number> {
    return cpuPercent(this.a!, this.b!);
  }

  serverLoopMaxMs(): Record<string, number> {
    return this.lag.maxMs;
  }

  serverLoopP99Ms(): Record<string, number> {
    return this.lag.p99Ms;
  }
}

/** Names the busiest process (≥ 90 % of a core counts as saturated). */
export function saturation(cpu: Record<string, number>, cores: number): { busiest: string; busiestPct: number; saturated: string[]; totalPct: number; outsidePct: number } {
  const entries = Object.entries(cpu).filter(([k, v]) => Number.isFinite(v) && k !== MACHINE && k !== OUTSIDE);
  entries.sort((x, y) => y[1] - x[1]);
  const totalPct = cpu[MACHINE] ?? round(entries.reduce((s, [, v]) => s + v, 0));
  const outsidePct = cpu[OUTSIDE] ?? 0;
  if (outsidePct >= 20) entries.push([`${OUTSIDE} (other work on the machine)`, outsidePct]);
  const saturated = entries.filter(([, v]) => v >= 90).map(([k]) => k);
  if (totalPct >= cores * 100 * 0.9) saturated.push(`machine (${totalPct}% of ${cores * 100}%)`);
  return { busiest: entries[0]?.[0] ?? '', busiestPct: entries[0]?.[1] ?? 0, saturated, totalPct, outsidePct };
}

/** What the publisher reports after a fixed-rate run. */
export interface RateRun {
  published: number;
  perRoom: number[];
  errors: number;
  skipped: number;
  seconds: number;
  loopMaxMs: number;
  httpLatency?: HistogramData;
}

/**
 * One fixed-rate measurement, shared by the latency and HTTP scenarios: start
 * the publisher, warm up, record latency over a watched window, stop, let the
 * deliveries drain, then read every worker.
 */
export async function measureAtRate(
  env: BenchEnv,
  servers: ServerProcess[],
  l: Layout,
  request: Record<string, unknown>,
  marker: string,
  o: { warmupS: number; durationS: number },
) {
  await Promise.all(env.workers.map((w) => w.call({ type: 'reset', latency: false, marker })));
  const run = env.publisher.call<RateRun>(request, 600_000);
  await sleep(o.warmupS * 1000);
  await Promise.all(env.workers.map((w) => w.call({ type: 'latency', on: true })));
  const window = new Window(env, servers);
  await window.start();
  await sleep(o.durationS * 1000);
  await window.stop();
  await env.publisher.call({ type: 'stop' });
  const result = await run;
  await drain(env, result.published * l.subs, 2000, 15_000);
  const snaps = await snapshots(env, true);
  const loss = losses(l, snaps, result.perRoom);
  const hist = mergedHist(snaps);
  const cpu = window.cpu();
  /** What every fixed-rate run reports, whatever drove it. */
  const summary = {
    achievedRate: Math.round(result.published / result.seconds),
    skippedSlots: result.skipped,
    latency: summarize(hist),
    lost: loss.lost,
    serverLoopMaxMs: window.serverLoopMaxMs(),
    serverLoopP99Ms: window.serverLoopP99Ms(),
    clientLoopMaxMs: Object.fromEntries(snaps.map((s, i) => [env.workers[i]!.name, round(s.loopMaxMs)])),
    publisherLoopMaxMs: round(result.loopMaxMs),
    cpuPct: cpu,
    closes: closesOf(snaps),
    saturation: saturation(cpu, cpus().length),
  };
  return { result, hist, cpu, summary };
}

/** The parameters every scenario on the rooms × subscribers layout reports. */
export const layoutParams = (env: BenchEnv) => ({ rooms: env.options.rooms, subs: env.options.subs, payloadBytes: env.options.payloadBytes });
