/**
 * What the kernel says about a process, read from outside so every system is
 * measured the same way: CPU time from /proc/<pid>/stat, RSS from
 * /proc/<pid>/status.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of `pid` in microseconds, or NaN when the process is gone. */
export function cpuTimeUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS of `pid` in bytes. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The pid of the redis-server listening on `port` (its title is `redis-server 127.0.0.1:<port>`). */
export function findRedisPid(port: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.startsWith('redis-server') && cmd.includes(`:${port}`)) return Number(entry);
    } catch {
      // raced with an exiting process
    }
  }
  return null;
}

/** Busy CPU time of the whole machine (all cores) in microseconds, from /proc/stat. */
export function machineBusyUs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const t = line.trim().split(/\s+/).slice(1).map(Number);
    const total = t.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (t[3] ?? 0) + (t[4] ?? 0);
    return ((total - idle) * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Keys `cpuPercent` adds next to the processes: everything busy, and what was busy outside the benchmark. */
export const MACHINE = 'machine total';
export const OUTSIDE = 'outside the benchmark';

export type Pids = Record<string, number>;

export interface CpuSnapshot {
  at: number;
  us: Record<string, number>;
}

export function cpuSnapshot(pids: Pids): CpuSnapshot {
  const us: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) us[name] = cpuTimeUs(pid);
  us[MACHINE] = machineBusyUs();
  return { at: performance.now(), us };
}

/** CPU% per process between two snapshots (100 % = one core busy). */
export function cpuPercent(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const wallUs = (b.at - a.at) * 1000;
  const out: Record<string, number> = {};
  let ours = 0;
  for (const name of Object.keys(b.us)) {
    const delta = (b.us[name] ?? 0) - (a.us[name] ?? 0);
    out[name] = Math.round((delta / wallUs) * 1000) / 10;
    if (name !== MACHINE && Number.isFinite(delta)) ours += delta;
  }
  out[OUTSIDE] = Math.max(0, Math.round(((((b.us[MACHINE] ?? 0) - (a.us[MACHINE] ?? 0) - ours) / wallUs) * 1000)) / 10);
  return out;
}

export function cpuDeltaUs(a: CpuSnapshot, b: CpuSnapshot, names: string[]): number {
  return names.reduce((sum, n) => sum + ((b.us[n] ?? 0) - (a.us[n] ?? 0)), 0);
}
