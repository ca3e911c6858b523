/**
 * A throwaway Redis Cluster (masters only, no replicas) of local
 * `redis-server` processes on free ports: for tests of the cluster-mode broker,
 * which may kill a node and restart it on the same port.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';

export interface RedisClusterProcess {
  /** `redis://127.0.0.1:P` of every node, in creation order. */
  urls: string[];
  /** The first node's URL: any node works as the seed. */
  url: string;
  ports: number[];
  /** Stops every node and deletes the cluster's temp dir. */
  stop(): Promise<void>;
  /** SIGKILLs node `i` (a crash). Its slots stay assigned to it: there are no replicas to fail over to. */
  killNode(i: number): Promise<void>;
  /** Starts node `i` again on the same ports with its nodes.conf, so it rejoins owning the same slots. */
  restartNode(i: number): Promise<void>;
}

export async function startRedisCluster(options: { nodes?: number } = {}): Promise<RedisClusterProcess> {
  const count = options.nodes ?? 3;
  if (count < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const dir = await mkdtemp(join(tmpdir(), 'townsquare-redis-cluster-'));
  const ports: number[] = [];
  // The cluster bus defaults to port + 10000, which can overflow 65535 for an
  // ephemeral port, so each node gets its own free bus port (redis >= 7.0).
  const busPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    ports.push(await freePort());
    busPorts.push(await freePort());
  }
  const children: (ChildProcess | null)[] = ports.map(() => null);

  const launch = async (i: number) => {
    const port = ports[i]!;
    // prettier-ignore
    children[i] = spawn('redis-server', [
      '--port', String(port), '--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]),
      '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir,
      '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1',
    ], { stdio: 'ignore' });
    await waitFor(port, async (r) => (await r.ping()) === 'PONG', `redis-server on port ${port} to start`);
  };
  const halt = async (i: number, signal: NodeJS.Signals) => {
    const c = children[i];
    children[i] = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    await exited;
  };
  const stop = async () => {
    await Promise.all(ports.map((_, i) => halt(i, 'SIGTERM')));
    await rm(dir, { recursive: true, force: true });
  };
  // Every node must agree the cluster is up before clients can rely on it.
  const allOk = () =>
    Promise.all(
      ports.map((port) =>
        waitFor(port, async (r) => /cluster_state:ok/.test(await r.cluster('INFO')), `cluster_state:ok on port ${port}`),
      ),
    );

  try {
    await Promise.all(ports.map((_, i) => launch(i)));
    await promisify(execFile)('redis-cli', [
      '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes',
    ]);
    await allOk();
  } catch (err) {
    await stop();
    throw err;
  }

  const urls = ports.map((p) => `redis://127.0.0.1:${p}`);
  return {
    urls,
    url: urls[0]!,
    ports,
    stop,
    killNode: (i) => halt(i, 'SIGKILL'),
    async restartNode(i) {
      await launch(i);
      await allOk();
    },
  };
}

/** Polls a fresh connection to `port` until `check` passes (15 s at most). */
async function waitFor(port: number, check: (r: Redis) => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    try {
      await client.connect();
      if (await check(client)) return;
    } catch (err) {
      last = err;
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 100));
  }
}
