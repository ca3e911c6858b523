/**
 * Request/response over a child process's IPC channel: `call()` sends
 * `{id, ...}` and resolves with the reply carrying the same id; other
 * messages (periodic ticks) go to `onEvent`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface BenchChild {
  name: string;
  pid: number;
  child: ChildProcess;
  call<T = Record<string, unknown>>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  send(message: Record<string, unknown>): void;
  onEvent(listener: (message: Record<string, unknown>) => void): void;
  stop(): Promise<void>;
}

export function forkTs(name: string, file: string, args: string[] = [], env: Record<string, string> = {}): BenchChild {
  const child = fork(resolve(file), args, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const listeners: Array<(m: Record<string, unknown>) => void> = [];
  child.on('message', (raw) => {
    const message = raw as Record<string, unknown>;
    const id = message.id as number | undefined;
    if (id !== undefined && pending.has(id)) {
      const p = pending.get(id)!;
      pending.delete(id);
      clearTimeout(p.timer);
      if (typeof message.error === 'string') p.reject(new Error(`${name}: ${message.error}`));
      else p.resolve(message as never);
      return;
    }
    for (const l of listeners) l(message);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (${code ?? signal})`));
    pending.clear();
  });
  return {
    name,
    pid: child.pid!,
    child,
    call(message, timeoutMs = 120_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no reply to ${String(message.type)} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: never) => void, reject, timer });
        child.send({ ...message, id });
      });
    },
    send(message) {
      if (child.connected) child.send(message);
    },
    onEvent(listener) {
      listeners.push(listener);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
