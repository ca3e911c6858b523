/**
 * The demo web app's server, for the local stack only: bundles demo/ with
 * esbuild at startup (one JS file, one CSS file, kept in memory), serves them
 * with `config.json` (where the API and the relays are), and a DEV-ONLY token
 * endpoint that mints tokens with the local dev issuer for whichever user the
 * page asks for. It listens on 127.0.0.1 only, and answers only requests
 * addressed to a loopback host name (so a DNS-rebinding page cannot use it).
 * Nothing like it exists in a deployment: there, the app's own sign-in issues
 * tokens.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { USER_ID_PATTERN } from '../protocol/channels.js';
import type { DevIssuer } from './dev-keys.js';

export interface DemoServerOptions {
  apiUrl: string;
  relayUrls: string[];
  issuer: DevIssuer;
  /** @default 0 (a free port) */
  port?: number;
  /** Lifetime of the tokens the dev endpoint mints. @default 3600 */
  tokenTtlSeconds?: number;
}

export interface DemoServer {
  url: string;
  stop(): Promise<void>;
}

const DEMO_DIR = resolve('demo');
const CLIENT_SRC = resolve('client/src');
/** A token request is `{"userId":"…"}`: nothing legitimate comes near this. */
const MAX_TOKEN_REQUEST_BYTES = 1024;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

interface Asset {
  type: string;
  body: Buffer | string;
}

/** Bundles demo/src/main.tsx (and the CSS it imports) with the SDK from source. */
export async function buildDemoBundle(): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: [resolve(DEMO_DIR, 'src/main.tsx')],
    bundle: true,
    write: false,
    outdir: resolve(DEMO_DIR, 'dist'),
    entryNames: 'app',
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    minify: true,
    sourcemap: 'linked',
    // The SDK is a package of this repository, not an installed one: build it from its source.
    alias: { '@townsquare/client': CLIENT_SRC },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    const type = name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'application/json';
    assets.set(`/assets/${name}`, { type: `${type}; charset=utf-8`, body: Buffer.from(file.contents) });
  }
  return assets;
}

export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const assets = await buildDemoBundle();
  assets.set('/', { type: 'text/html; charset=utf-8', body: await readFile(resolve(DEMO_DIR, 'index.html')) });
  assets.set('/config.json', {
    type: 'application/json',
    body: JSON.stringify({ apiUrl: options.apiUrl, relayUrls: options.relayUrls, devTokens: true }),
  });
  const ttlSeconds = options.tokenTtlSeconds ?? 3600;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('demo server error', err);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'demo server error' } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!LOOPBACK_HOSTS.has(host)) return sendJson(res, 403, { error: { code: 'forbidden', message: 'the demo server answers only loopback host names' } });
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/dev/token') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: { code: 'bad_request', message: 'POST {"userId"} to /dev/token' } }, { allow: 'POST' });
      return mintDevToken(req, res);
    }
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(path) : undefined;
    if (!asset) return sendJson(res, 404, { error: { code: 'not_found', message: `no ${path} here` } });
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  /** DEV ONLY: a token for any user id the page names, signed by the local dev issuer. */
  async function mintDevToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A JSON content type forces a CORS preflight on a cross-site request, which this server never grants.
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return sendJson(res, 415, { error: { code: 'bad_request', message: 'send the body as application/json' } });
    }
    const raw = await readLimited(req, MAX_TOKEN_REQUEST_BYTES);
    if (raw === null) return sendJson(res, 413, { error: { code: 'payload_too_large', message: `the body is over ${MAX_TOKEN_REQUEST_BYTES} bytes` } });
    let userId: unknown;
    try {
      userId = (JSON.parse(raw) as { userId?: unknown } | null)?.userId;
    } catch {
      return sendJson(res, 400, { error: { code: 'invalid_json', message: 'the body is not JSON' } });
    }
    if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) {
      return sendJson(res, 400, { error: { code: 'bad_request', message: 'body.userId: 1–128 of A–Z a–z 0–9 _ | @ . : + -' } });
    }
    const token = await options.issuer.mint(userId, { ttlSeconds });
    sendJson(res, 200, { token, userId, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The body as text, or null once it passes `limit` bytes (the rest is not read). */
async function readLimited(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
