/**
 * Turns one run's results into docs/benchmarks.md (a side-by-side table with
 * targets) and docs/benchmarks-latency.svg (latency CDFs of both systems),
 * hand-drawn SVG, no plotting library.
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Calibration } from './lib/calibrate.js';
import { cdfPoints, type HistogramData } from './lib/hist.js';

/** The scenario results as emitted (loosely typed: the report only reads them). */
type Json = Record<string, any>;

export interface ReportMeta {
  started: Date;
  quick: boolean;
  options: { rooms: number; subs: number; workers: number; payloadBytes: number };
  scenarios: string[];
  /** bench/lib/calibrate.ts's fixed workload before and after the run. */
  calibration: { before: Calibration; after: Calibration };
}

const fmt = (v: unknown): string => {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return 'n/a';
  if (typeof v === 'number') return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 1000) / 1000);
  return String(v);
};
const ratio = (ts: number | undefined, sio: number | undefined) =>
  ts === undefined || sio === undefined || !sio ? 'n/a' : `${(ts / sio).toFixed(2)}×`;
const maxOf = (o: Record<string, number> | undefined) => Math.max(0, ...Object.values(o ?? {}));
const check = (ok: boolean | null) => (ok === null ? '' : ok ? '✅ met' : '❌ missed');

function busiest(cpu: Record<string, number> | undefined): string {
  return Object.entries(cpu ?? {})
    .filter(([, v]) => v >= 5)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}%`)
    .join(', ');
}

function httpSection(h: Json): string {
  const runs = h.townsquare.runs as Json[];
  const perSend = runs.map((t) => `${fmt(t.apiCpuMsPerSend)} ms at ${t.achievedRate}/s`).join(', ');
  const busiestAt = runs
    .map((t) => `at ${t.rate}/s ${t.saturation.busiest} (${t.saturation.busiestPct} %, machine total ${t.saturation.totalPct} %)`)
    .join('; ');
  const alone = h.townsquare.apiAlone as Json | null;
  return `## The HTTP path

Each \`POST /rooms/{id}/messages\` goes through the local API Gateway stand-in (\`local/api-gateway.ts\`: JWT check,
payload v2 event) into the send-message handler, which makes three DynamoDB calls with the AWS SDK v3 (membership
read and idempotency claim together, then the message write) against dynalite, then one Redis \`PUBLISH\`. CPU of
the API process per send (all its threads: the API, the SDK, dynalite's thread, and the benchmark's own
coordination, about 1 % of a core): ${perSend}. In AWS that work is spread over Lambda containers and DynamoDB; here it shares
${cpus().length} cores with the relays, the ${h.params.rooms * h.params.subs} subscribers' fan-out and the load generator. Busiest process: ${busiestAt}.${
    alone
      ? ` The "API alone" rows repeat the measurement with one subscriber per room, so that little but the API
competes for the CPU.`
      : ''
  }

`;
}

export function writeReport(results: Json[], meta: ReportMeta): string[] {
  const by = (s: string) => results.find((r) => r.scenario === s);
  const rows: string[] = [];
  const row = (metric: string, sio: unknown, ts: unknown, r: string, target: string, verdict: string) =>
    rows.push(`| ${metric} | ${fmt(sio)} | ${fmt(ts)} | ${r} | ${target} | ${verdict} |`);
  const notes: string[] = [];

  const f = by('fanout');
  const fruns: Json[] = f?.runs ?? [];
  const f0 = fruns[0];
  if (f0) {
    const s = f0.socketio, t = f0.townsquare;
    const w = `fan-out (window ${fmt(f0.window)})`;
    row(`${w}: deliveries/s`, s.deliveriesPerSec, t.deliveriesPerSec, ratio(t.deliveriesPerSec, s.deliveriesPerSec), '≥ 10× Socket.IO', check(t.deliveriesPerSec >= 10 * s.deliveriesPerSec));
    row(`${w}: published msg/s`, s.publishedPerSec, t.publishedPerSec, ratio(t.publishedPerSec, s.publishedPerSec), '', '');
    row(`${w}: lost deliveries`, s.lost, t.lost, '', '0', check(t.lost === 0));
    row(`${w}: server CPU µs per delivery`, s.serverCpuUsPerDelivery, t.serverCpuUsPerDelivery, ratio(t.serverCpuUsPerDelivery, s.serverCpuUsPerDelivery), '≤ 1 µs', check(t.serverCpuUsPerDelivery <= 1));
    row(`${w}: server event-loop max (ms)`, maxOf(s.serverLoopMaxMs), maxOf(t.serverLoopMaxMs), '', '', '');
  }
  for (const r of fruns)
    notes.push(`- **fan-out, window ${fmt(r.window)}** CPU% (100 % = one core) — Socket.IO run: ${busiest(r.socketio.cpuPct)}; Townsquare run: ${busiest(r.townsquare.cpuPct)}.`);
  const l = by('latency');
  if (l) {
    l.params.rates.forEach((rate: number, i: number) => {
      const s = l.socketio.runs[i], t = l.townsquare.runs[i];
      for (const [k, label] of [['p50Ms', 'p50'], ['p90Ms', 'p90'], ['p99Ms', 'p99'], ['p999Ms', 'p99.9'], ['maxMs', 'max']] as const) {
        const target = rate === 500 && k === 'p99Ms' ? '≤ 10 ms' : '';
        row(`latency @ ${rate} msg/s: ${label} (ms)`, s.latency[k], t.latency[k], ratio(t.latency[k], s.latency[k]), target, target ? check(t.latency[k] <= 10) : '');
      }
      const stall = maxOf(t.serverLoopMaxMs);
      row(`latency @ ${rate} msg/s: server event-loop max (ms)`, maxOf(s.serverLoopMaxMs), stall, '', rate === 2000 ? '≤ 50 ms' : '', rate === 2000 ? check(stall <= 50) : '');
      row(`latency @ ${rate} msg/s: achieved rate (msg/s)`, s.achievedRate, t.achievedRate, '', '', '');
      row(`latency @ ${rate} msg/s: lost`, s.lost, t.lost, '', '0', check(t.lost === 0));
      notes.push(`- **latency @ ${rate}** CPU% — Socket.IO run: ${busiest(s.cpuPct)}; Townsquare run: ${busiest(t.cpuPct)}. Client loop max (ms): Socket.IO ${maxOf(s.clientLoopMaxMs)}, Townsquare ${maxOf(t.clientLoopMaxMs)}; publisher ${s.publisherLoopMaxMs} / ${t.publisherLoopMaxMs}.`);
    });
  }
  const m = by('memory');
  if (m) {
    m.params.counts.forEach((n: number, i: number) => {
      const s = m.socketio[i], t = m.townsquare[i];
      const big = i === m.params.counts.length - 1;
      const target = big ? '≤ 6 KB and ≤ 0.5× Socket.IO' : '';
      row(`idle ×${fmt(n)}: RSS per connection (KB)`, s.rssPerConnKB, t.rssPerConnKB, ratio(t.rssPerConnKB, s.rssPerConnKB), target, big ? check(t.rssPerConnKB <= 6 && t.rssPerConnKB <= 0.5 * s.rssPerConnKB) : '');
      row(`idle ×${fmt(n)}: V8 heap per connection (KB)`, s.heapPerConnKB, t.heapPerConnKB, ratio(t.heapPerConnKB, s.heapPerConnKB), '', '');
      row(`idle ×${fmt(n)}: connections/s (connect + subscribe)`, s.connectPerSec, t.connectPerSec, ratio(t.connectPerSec, s.connectPerSec), '', '');
      row(`idle ×${fmt(n)}: connections held (failed)`, `${s.connections} (${s.failed})`, `${t.connections} (${t.failed})`, '', '', '');
    });
  }
  const h = by('http');
  if (h) {
    for (const t of h.townsquare.runs as Json[]) {
      const target = t.rate === 200 ? '≤ 20 ms' : '';
      row(`HTTP send → delivered @ ${t.rate} msg/s: p50 (ms)`, null, t.latency.p50Ms, '', '', '');
      row(`HTTP send → delivered @ ${t.rate} msg/s: p99 (ms)`, null, t.latency.p99Ms, '', target, target ? check(t.latency.p99Ms <= 20) : '');
      row(`HTTP @ ${t.rate} msg/s: achieved rate / HTTP response p99 (ms)`, null, `${t.achievedRate} / ${fmt(t.httpResponse.p99Ms)}`, '', '', '');
      row(`HTTP @ ${t.rate} msg/s: API process CPU per send (ms)`, null, t.apiCpuMsPerSend, '', '', '');
      notes.push(`- **HTTP @ ${t.rate}** CPU% — ${busiest(t.cpuPct)}; lost ${t.lost}, HTTP errors ${t.httpErrors}, skipped slots ${t.skippedSlots}.`);
    }
    const a = h.townsquare.apiAlone as Json | null;
    if (a) {
      row(`HTTP, API alone (1 subscriber per room) @ ${a.rate} msg/s: p50 / p99 (ms)`, null, `${fmt(a.latency.p50Ms)} / ${fmt(a.latency.p99Ms)}`, '', '', '');
      row(`HTTP, API alone @ ${a.rate} msg/s: achieved rate / API process CPU per send (ms)`, null, `${a.achievedRate} / ${fmt(a.apiCpuMsPerSend)}`, '', '', '');
      notes.push(`- **HTTP, API alone @ ${a.rate}** CPU% — ${busiest(a.cpuPct)}; lost ${a.lost}, HTTP errors ${a.httpErrors}, skipped slots ${a.skippedSlots}.`);
    }
  }

  // Other work on the machine (CPU not used by any benchmark process) makes every number suspect.
  const outside: string[] = [];
  const noteOutside = (label: string, cpu: Record<string, number> | undefined) => {
    const v = cpu?.['outside the benchmark'] ?? 0;
    if (v >= 20) outside.push(`${label} ${v}%`);
  };
  for (const r of fruns) (noteOutside(`fan-out @ window ${r.window} Socket.IO`, r.socketio.cpuPct), noteOutside(`fan-out @ window ${r.window} Townsquare`, r.townsquare.cpuPct));
  if (l)
    l.params.rates.forEach((rate: number, i: number) => {
      noteOutside(`latency @ ${rate} Socket.IO`, l.socketio.runs[i].cpuPct);
      noteOutside(`latency @ ${rate} Townsquare`, l.townsquare.runs[i].cpuPct);
    });
  if (h) for (const t of h.townsquare.runs as Json[]) noteOutside(`HTTP @ ${t.rate}`, t.cpuPct);
  const warning = outside.length
    ? `\n> ⚠️ **The machine was not quiet.** Processes outside the benchmark used CPU during these windows (100 % = one core): ${outside.join('; ')}. Numbers from those windows are depressed and noisy; re-run on an otherwise idle machine before drawing conclusions.\n`
    : '';

  const svgFile = 'docs/benchmarks-latency.svg';
  const mdFile = 'docs/benchmarks.md';
  if (l) writeFileSync(svgFile, latencySvg(l));
  const o = meta.options;
  const md = `# Benchmarks: Townsquare relay vs Socket.IO 4

Generated by \`npm run bench\` (\`bench/run.ts\`) on ${meta.started.toISOString().slice(0, 16).replace('T', ' ')} UTC — one run, both systems on
the same machine and the same \`redis-server\`: **${cpus().length} cores** (${cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB,
**Node ${process.version}**, Redis ${redisVersion()}, open-file limit ${openFiles()}. Calibration (\`bench/lib/calibrate.ts\`, a
fixed single-threaded workload; lower is a faster machine): ${meta.calibration.before.cpuMs} ms CPU / ${meta.calibration.before.wallMs} ms wall
before the run, ${meta.calibration.after.cpuMs} / ${meta.calibration.after.wallMs} ms after.
Compare absolute figures only between runs whose calibrations agree; the ratios are from one run and hold either way.

- **Townsquare**: two relay processes from the production bundle (\`dist/relay/main.mjs\`, started by
  \`local/relay-process.ts\`), the HTTP API and dynalite (on its own thread) in the orchestrator process. Clients authenticate with real
  JWTs and subscribe to \`room:<id>\` (the memberships were created through \`POST /rooms\` and
  \`POST /rooms/{id}/members\`). The publisher \`PUBLISH\`es the \`MessageEnvelope\` JSON to \`room:<id>\`, exactly
  what the send-message function publishes.
- **Socket.IO** 4 + \`@socket.io/redis-adapter\` 8: two server processes (\`bench/peer/socketio-server.mjs\`,
  websocket transport only, no compression); clients join a room with an acked \`join\` event. The publisher
  broadcasts with \`@socket.io/redis-emitter\` (\`emitter.to(room).emit('m', data)\`): one Redis PUBLISH per
  message, which every server's adapter receives.
- **Load**: ${o.workers} client processes holding raw \`ws\` sockets for both systems (Engine.IO v4 spoken directly
  for Socket.IO), counting frames by their first bytes and reading only the publish timestamp (\`CLOCK_MONOTONIC\` µs,
  shared by all processes) for latency. Layout: ${o.rooms} rooms × ${o.subs} subscribers spread round-robin over both
  servers of a system; payload padding ${o.payloadBytes} bytes. Parameters per scenario are in the JSON lines.
- **CPU** is read from \`/proc/<pid>/stat\` for every process over the measurement window; **server event-loop
  stalls** from each server's \`/metrics\` (\`nodejs_eventloop_lag_max_seconds\`, prom-client defaults, scraped every
  second); client and publisher stalls from \`monitorEventLoopDelay\` inside those processes. That histogram records
  the time between its own ticks (every 10 ms in prom-client, 5 ms in the load generator), so an idle loop reads
  the tick interval; a stall is the reading minus it (\`bench/lib/loop-stall.ts\`), a lower bound by up to one tick.
- **Memory**: one server process per system started with \`--inspect=127.0.0.1:0\`; a full GC is forced through the
  inspector (\`HeapProfiler.collectGarbage\`, twice) before each reading; RSS is VmRSS from \`/proc\`, heap is
  \`nodejs_heap_size_used_bytes\`; per connection = (after − before) / N. Townsquare connections each do auth (ES256
  JWT), a membership read (dynalite, in the orchestrator) and a Redis presence write; Socket.IO ones do neither, so
  the connect rates are not like for like. Users hold several connections each when N exceeds the members.
${meta.quick ? '\n> **Quick smoke run** — short windows and small counts; not representative.\n' : ''}${warning}
## Results

Ratio = Townsquare ÷ Socket.IO (for throughput, higher is better; for CPU, memory and latency, lower is better).

| metric | Socket.IO | Townsquare | ratio | target | |
|---|---:|---:|---:|---|---|
${rows.join('\n')}

![latency CDF](benchmarks-latency.svg)

${fruns.length ? windowSection(f!) : ''}${h ? httpSection(h) : ''}
## What saturated

${notes.join('\n')}

A process at ≥ 90 % is one core busy; the machine has ${cpus().length * 100} % in all. With ${cpus().length} cores the
load generator, Redis and the servers share the CPU, so absolute numbers are machine-bound; the ratios compare like
with like within one run.

## Re-running

\`\`\`sh
npm run bench                              # everything (~6 min), rewrites this file
npm run bench -- --scenario fanout         # one scenario (latency, memory, http); add --docs to rewrite this file
npm run bench -- --quick                   # smoke run
npm run bench -- --scenario fanout --profile /tmp/relay-prof   # relays under the V8 CPU profiler
npx tsx bench/profile-summary.ts /tmp/relay-prof/*.cpuprofile  # top functions, mapped through the bundle's source map
\`\`\`

Flags: see the header of \`bench/run.ts\`.
`;
  writeFileSync(mdFile, md);
  return l ? [mdFile, svgFile] : [mdFile];
}

/** The fan-out scenario once per in-flight window: what the window is, why it moves the result, one row per window. */
function windowSection(f: Json): string {
  const both = (s: unknown, t: unknown) => `${fmt(s)} / ${fmt(t)}`;
  const rows = (f.runs as Json[]).map((r) => {
    const s = r.socketio, t = r.townsquare;
    return `| ${fmt(r.window)} | ${fmt(s.deliveriesPerSec)} | ${fmt(t.deliveriesPerSec)} | ${ratio(t.deliveriesPerSec, s.deliveriesPerSec)} | ${both(s.serverCpuUsPerDelivery, t.serverCpuUsPerDelivery)} | ${both(maxOf(s.serverLoopMaxMs), maxOf(t.serverLoopMaxMs))} | ${both(s.lost, t.lost)} | ${both(s.meanInFlightMs, t.meanInFlightMs)} |`;
  });
  const p = f.params;
  return `## Fan-out vs in-flight window

The fan-out publisher sends as fast as the system absorbs, but keeps at most **window** messages in flight: published
but not yet delivered to every subscriber (it counts a message delivered once deliveries/subscribers-per-room have
caught up with it, and waits otherwise). The window decides how much work arrives per event-loop turn: the more
messages are in flight, the more of them a server takes from one Redis read and the more frames it can put into
each socket write — for both systems alike; how much a server gains from that shows in the CPU µs/delivery column.
Bigger windows therefore buy throughput with batching, until a server's event loop stalls. They also buy it with
latency: a message waits behind the others in flight, so its mean time from publish to last delivery is about
window ÷ published msg/s (Little's law, last column), and event-loop stalls add to the tail. At the large windows that is hundreds of milliseconds to seconds, so the throughput there is a
ceiling, not a usable operating point; the latency scenario measures fixed publish rates instead. The
headline fan-out rows use the first window listed (${fmt(p.windows?.[0])}; \`--window\` sets the list). By default
that is 1,000: enough in flight to keep the servers busy (at 200 both systems spend part of each round trip
waiting on the publisher's closed loop), while Townsquare's mean time in flight stays well under a second.

Each window is measured for ${fmt(p.durationS)} s after ${fmt(p.warmupS)} s of warm-up, in the order listed, one system after
the other; a system's connections are reused from window to window (reconnected only when a window left deliveries
missing or sockets closed). Pairs are Socket.IO / Townsquare.

| window (messages) | Socket.IO deliveries/s | Townsquare deliveries/s | ratio | server CPU µs/delivery | server event-loop max (ms) | lost | ≈ mean in flight (ms) |
|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

`;
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execSync('redis-server --version').toString())?.[1] ?? '?';
  } catch {
    return '?';
  }
}
function openFiles(): string {
  try {
    return execSync('sh -c "ulimit -n"').toString().trim();
  } catch {
    return '?';
  }
}

/** CDF of publish → deliver latency, log-scale x axis, one line per system and rate. */
function latencySvg(l: Json): string {
  const W = 760, H = 420, left = 60, right = 190, top = 30, bottom = 50;
  const pw = W - left - right, ph = H - top - bottom;
  const series: Array<{ label: string; color: string; dash: string; hist: HistogramData }> = [];
  const colors = { socketio: '#d9534f', townsquare: '#1f77b4' };
  l.params.rates.forEach((rate: number, i: number) => {
    const dash = i === 0 ? '' : '6 4';
    series.push({ label: `Socket.IO @ ${rate}/s`, color: colors.socketio, dash, hist: l.socketio.runs[i].hist });
    series.push({ label: `Townsquare @ ${rate}/s`, color: colors.townsquare, dash, hist: l.townsquare.runs[i].hist });
  });
  const all = series.flatMap((s) => cdfPoints(s.hist));
  const minMs = Math.max(0.01, Math.min(...all.map((p) => p[0])));
  const maxMs = Math.max(...all.map((p) => p[0]));
  const lo = Math.floor(Math.log10(minMs)), hi = Math.ceil(Math.log10(maxMs));
  const x = (ms: number) => left + ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * pw;
  const y = (f: number) => top + (1 - f) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">Publish → deliver latency (CDF), ${l.params.rooms} rooms × ${l.params.subs} subscribers</text>`);
  for (let e = lo; e <= hi; e++) {
    const xx = x(10 ** e);
    out.push(`<line x1="${xx}" y1="${top}" x2="${xx}" y2="${top + ph}" stroke="#ddd"/>`);
    out.push(`<text x="${xx}" y="${top + ph + 16}" text-anchor="middle">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    out.push(`<line x1="${left}" y1="${y(f)}" x2="${left + pw}" y2="${y(f)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${y(f) + 4}" text-anchor="end">${f}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${left + pw / 2}" y="${H - 12}" text-anchor="middle">latency (ms, log scale)</text>`);
  out.push(`<text x="16" y="${top + ph / 2}" transform="rotate(-90 16 ${top + ph / 2})" text-anchor="middle">fraction of deliveries ≤ x</text>`);
  series.forEach((s, i) => {
    const pts = cdfPoints(s.hist);
    if (pts.length === 0) return;
    const d = [`M${x(pts[0]![0]).toFixed(1)},${y(0).toFixed(1)}`, ...pts.map(([ms, f]) => `L${x(ms).toFixed(1)},${y(f).toFixed(1)}`)].join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
    const ly = top + 10 + i * 20;
    out.push(`<line x1="${left + pw + 12}" y1="${ly}" x2="${left + pw + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<text x="${left + pw + 46}" y="${ly + 4}">${s.label}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
