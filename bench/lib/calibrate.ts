/**
 * How fast this machine is right now: CPU time of a fixed single-threaded
 * workload (hashing and object writes, like a server's). These VMs share
 * their hosts, and the same code has measured up to twice as slow from one
 * hour to the next; absolute figures (µs per delivery, ms per request) are
 * only comparable between runs whose calibrations agree. Ratios within one
 * run are not affected.
 */
import { createHash } from 'node:crypto';

/** The best of three rounds, so that the first (cold JIT) round does not count. */
export function calibrationCpuMs(): number {
  return Math.min(workloadCpuMs(), workloadCpuMs(), workloadCpuMs());
}

function workloadCpuMs(): number {
  const start = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += createHash('sha256').update(`payload ${i}`).digest()[0]!;
  const table: Record<string, number> = {};
  for (let i = 0; i < 2_000_000; i++) table[`k${i % 1000}`] = i + sink;
  const used = process.cpuUsage(start);
  return Math.round((used.user + used.system) / 1000);
}
