/**
 * How fast this machine is right now: the time a fixed single-threaded
 * workload (hashing and object writes, like a server's) takes in a fresh
 * process. These VMs share their hosts, and the same code has measured up to
 * twice as slow from one hour to the next; absolute figures (µs per delivery,
 * ms per request) are only comparable between runs whose calibrations agree.
 * Ratios within one run are not affected.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Calibration {
  /** CPU time the workload took: slower when the host's other guests crowd caches and memory. */
  cpuMs: number;
  /** Wall time: also counts time the host did not run this VM at all. */
  wallMs: number;
}

const WORKLOAD = fileURLToPath(new URL('./calibrate-workload.mjs', import.meta.url));

export function calibrate(): Calibration {
  const run = spawnSync(process.execPath, [WORKLOAD], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`calibration failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Calibration;
}
