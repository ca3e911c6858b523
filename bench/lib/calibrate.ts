/**
 * How fast this machine is right now: CPU time of a fixed single-threaded
 * workload (hashing and object writes, like a server's). These VMs share
 * their hosts, and the same code has measured up to twice as slow from one
 * hour to the next; absolute figures (µs per delivery, ms per request) are
 * only comparable between runs whose calibrations agree. Ratios within one
 * run are not affected.
 */
import { createHash } from 'node:crypto';

export interface Calibration {
  /** CPU time the workload took: slower when the host's other guests crowd caches and memory. */
  cpuMs: number;
  /** Wall time: also counts time the host did not run this VM at all. */
  wallMs: number;
}

/** The best of three rounds, so that the first (cold JIT) round does not count. */
export function calibrate(): Calibration {
  const rounds = [workload(), workload(), workload()];
  return { cpuMs: Math.min(...rounds.map((r) => r.cpuMs)), wallMs: Math.min(...rounds.map((r) => r.wallMs)) };
}

function workload(): Calibration {
  const startWall = performance.now();
  const start = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += createHash('sha256').update(`payload ${i}`).digest()[0]!;
  const table: Record<string, number> = {};
  for (let i = 0; i < 2_000_000; i++) table[`k${i % 1000}`] = i + sink;
  const used = process.cpuUsage(start);
  return { cpuMs: Math.round((used.user + used.system) / 1000), wallMs: Math.round(performance.now() - startWall) };
}
