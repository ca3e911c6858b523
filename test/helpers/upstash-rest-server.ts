/**
 * A small Upstash-REST-compatible endpoint backed by a real redis-server, so
 * `@upstash/redis` can be tested without the Upstash service. It speaks what
 * the client sends (see node_modules/@upstash/redis, HttpClient.request):
 *
 * - `POST /` with a JSON array command, e.g. `["publish","room:1","{…}"]` → `{"result": …}`
 * - `POST /pipeline` (auto-pipelining, on by default) with an array of commands
 *   → `[{"result": …} | {"error": "…"}, …]`, in order
 * - `POST /multi-exec` with an array of commands, run in a MULTI transaction
 * - `Authorization: Bearer <token>`, else 401 `{"error": "…"}`
 * - `Upstash-Encoding: base64` → string results base64-encoded (except "OK")
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

export interface UpstashRestServer {
  /** `http://127.0.0.1:<port>`: pass as the client's `url`. */
  url: string;
  token: string;
  /** Commands received, in order (for assertions). */
  commands: string[][];
  close(): Promise<void>;
}

export interface UpstashRestServerOptions {
  /** Backing Redis, e.g. `redis://127.0.0.1:6390`. */
  redisUrl: string;
  /** @default a random token */
  token?: string;
}

type Command = Array<string | number>;

export async function startUpstashRestServer(options: UpstashRestServerOptions): Promise<UpstashRestServer> {
  const token = options.token ?? `test-${Math.random().toString(36).slice(2)}`;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  const commands: string[][] = [];

  const run = async (cmd: Command): Promise<unknown> => {
    const [name, ...args] = cmd.map(String);
    if (!name) throw new Error('ERR empty command');
    commands.push([name.toLowerCase(), ...args]);
    return redis.call(name, ...args);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => reply(res, 500, { error: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${token}`) {
      // Upstash answers a bad token with 401 and a JSON error; the client turns it into UpstashError.
      return reply(res, 401, { error: 'Unauthorized' });
    }
    if (req.method !== 'POST') return reply(res, 405, { error: 'ERR only POST is supported by this test server' });
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return reply(res, 400, { error: 'ERR failed to parse command' });
    }
    const encode = (v: unknown): unknown => (base64 ? encodeResult(v) : v);
    const path = (req.url ?? '/').split('?')[0];

    if (path === '/' || path === '') {
      if (!isCommand(body)) return reply(res, 400, { error: 'ERR failed to parse command' });
      try {
        return reply(res, 200, { result: encode(await run(body)) });
      } catch (err) {
        return reply(res, 400, { error: errorText(err) });
      }
    }
    if (path === '/pipeline' || path === '/multi-exec') {
      if (!Array.isArray(body) || !body.every(isCommand)) return reply(res, 400, { error: 'ERR failed to parse pipeline' });
      const cmds = body as Command[];
      const results: Array<{ result?: unknown; error?: string }> = [];
      if (path === '/multi-exec') {
        const replies = (await redis.multi(cmds.map((c) => c.map(String))).exec()) ?? [];
        cmds.forEach((c) => commands.push(c.map(String)));
        for (const [err, value] of replies) results.push(err ? { error: errorText(err) } : { result: encode(value) });
      } else {
        // Sequentially, so the server observes the client's order.
        for (const cmd of cmds) {
          try {
            results.push({ result: encode(await run(cmd)) });
          } catch (err) {
            results.push({ error: errorText(err) });
          }
        }
      }
      return reply(res, 200, results);
    }
    return reply(res, 404, { error: `ERR unknown endpoint ${path}` });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    commands,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}

function isCommand(v: unknown): v is Command {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || typeof x === 'number');
}

function encodeResult(v: unknown): unknown {
  if (typeof v === 'string') return v === 'OK' ? v : Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(encodeResult);
  return v;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
