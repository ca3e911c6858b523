/**
 * A local stand-in for the API Gateway HTTP API: routes like it (from the
 * same route list the CDK app deploys), verifies the JWT the way its JWT
 * authorizer does (401 `{"message":"Unauthorized"}` before any function
 * runs; 403 `{"message":"Forbidden"}` for a token without the scope a route
 * requires, as its authorization scopes do), builds payload v2 events and invokes the very handler exports that
 * Lambda runs. It also serves the dev issuer's JWKS for the relays.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { routes, type RouteDefinition } from '../functions/routes.js';
import { PUBLISHED_HEADER } from '../protocol/http.js';
import { createTokenVerifier, type VerifiedToken } from '../shared/token-verifier.js';
import { cachingVerifier } from './token-cache.js';

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;

export interface ApiGatewayOptions {
  jwks: JSONWebKeySet;
  issuer: string;
  audience: string;
  port?: number;
  host?: string;
  /**
   * The scope string a token must carry for a route's logical scope (functions/routes.ts `scope`),
   * as the deployed route's `authorizationScopes` name it. @default the logical name (`notify`)
   */
  scopes?: Partial<Record<NonNullable<RouteDefinition['scope']>, string>>;
}

/**
 * CORS as the deployed HTTP API's `corsPreflight` answers it (infra/lib/api-functions.ts):
 * any origin, the preflight answered before the authorizer, the same exposed headers.
 */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': `${PUBLISHED_HEADER},retry-after`,
};
const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'GET,POST,PUT,PATCH,DELETE,OPTIONS',
  'access-control-allow-headers': 'authorization,content-type,idempotency-key',
  'access-control-max-age': '3600',
};

/** API Gateway's own limit on a request payload. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const JWKS_PATH = '/.well-known/jwks.json';

interface CompiledRoute {
  method: string;
  pattern: RegExp;
  params: string[];
  definition: RouteDefinition;
}

function compile(definition: RouteDefinition): CompiledRoute {
  const [method, path] = definition.routeKey.split(' ') as [string, string];
  const params: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/\{(\w+)\}/g, (_, name: string) => {
      params.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { method, pattern, params, definition };
}

export async function startApiGateway(options: ApiGatewayOptions): Promise<{ server: Server; url: string; jwksUrl: string; stop(): Promise<void> }> {
  const compiled = routes.map(compile);
  const handlers = new Map<string, Handler>();
  for (const route of routes) {
    const mod = (await import(pathToFileURL(resolve(route.entry)).href)) as { handler: Handler };
    handlers.set(route.routeKey, mod.handler);
  }
  const verify = cachingVerifier(
    createTokenVerifier({ jwks: createLocalJWKSet(options.jwks), issuer: options.issuer, audience: options.audience }),
  );

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error('local API gateway error', err);
      send(res, 500, { message: 'Internal Server Error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.writeHead(204, PREFLIGHT_HEADERS);
      return void res.end();
    }
    if (req.method === 'GET' && url.pathname === JWKS_PATH) return send(res, 200, options.jwks);
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });

    const match = matchRoute(compiled, req.method ?? 'GET', url.pathname);
    if (!match) return send(res, 404, { message: 'Not Found' });

    const body = await readBody(req);
    if (body === null) return send(res, 413, { message: 'Request Entity Too Large' });

    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    let verified: VerifiedToken;
    try {
      if (!token) throw new Error('no token');
      verified = await verify(token);
    } catch {
      return send(res, 401, { message: 'Unauthorized' }, { 'www-authenticate': 'Bearer' });
    }

    // As API Gateway's authorization scopes: the token must carry the route's scope, else 403 before the function.
    const scope = match.route.definition.scope;
    if (scope && !verified.scopes.includes(options.scopes?.[scope] ?? scope)) return send(res, 403, { message: 'Forbidden' });

    const event = toEvent(req, url, body, match, verified);
    const result = await handlers.get(match.route.definition.routeKey)!(event);
    res.writeHead(result.statusCode ?? 200, { ...(result.headers as Record<string, string> | undefined), ...CORS_HEADERS });
    res.end(result.body ?? '');
  }

  await new Promise<void>((r) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    jwksUrl: `${url}${JWKS_PATH}`,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function matchRoute(compiled: CompiledRoute[], method: string, path: string) {
  for (const route of compiled) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (!m) continue;
    try {
      const params = Object.fromEntries(route.params.map((name, i) => [name, decodeURIComponent(m[i + 1]!)]));
      return { route, params };
    } catch {
      return null; // a malformed %-escape matches no route, as with API Gateway
    }
  }
  return null;
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PAYLOAD_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The event's body fields: text when the bytes are UTF-8, otherwise base64
 * with `isBase64Encoded`, as API Gateway passes a body it cannot pass as text
 * (decoding with replacement would turn bad bytes into U+FFFD unseen).
 */
function bodyFields(body: Buffer): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { isBase64Encoded: false };
  try {
    return { body: strictUtf8.decode(body), isBase64Encoded: false };
  } catch {
    return { body: body.toString('base64'), isBase64Encoded: true };
  }
}

/** API Gateway flattens claims to strings in the v2 event. */
function flattenClaims(claims: Record<string, unknown>): Record<string, string | number | boolean | string[]> {
  return Object.fromEntries(
    Object.entries(claims).map(([k, v]) => [k, typeof v === 'string' ? v : Array.isArray(v) ? `[${v.join(' ')}]` : String(v)]),
  );
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  match: { route: CompiledRoute; params: Record<string, string> },
  token: VerifiedToken,
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: match.route.definition.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search && { queryStringParameters: query }),
    ...(match.route.params.length > 0 && { pathParameters: match.params }),
    ...bodyFields(body),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: flattenClaims(token.claims), scopes: token.scopes } },
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: match.route.definition.routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...CORS_HEADERS, ...headers });
  res.end(JSON.stringify(body));
}
