// The calibration workload (see calibrate.ts), run in a fresh process so that
// the numbers before and after a run are taken alike: best of three rounds,
// the first paying for the cold JIT.
import { createHash } from 'node:crypto';

function round() {
  const startWall = performance.now();
  const start = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += createHash('sha256').update(`payload ${i}`).digest()[0];
  const table = {};
  for (let i = 0; i < 2_000_000; i++) table[`k${i % 1000}`] = i + sink;
  const used = process.cpuUsage(start);
  return { cpuMs: Math.round((used.user + used.system) / 1000), wallMs: Math.round(performance.now() - startWall) };
}

const rounds = [round(), round(), round()];
console.log(JSON.stringify({ cpuMs: Math.min(...rounds.map((r) => r.cpuMs)), wallMs: Math.min(...rounds.map((r) => r.wallMs)) }));
