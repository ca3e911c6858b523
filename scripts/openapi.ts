/**
 * Generates docs/openapi.json (OpenAPI 3.1) from the HTTP contract in
 * protocol/http.ts and the route list in functions/routes.ts:
 * `npm run openapi`. test/unit/openapi.test.ts regenerates it and fails when
 * the checked-in file differs or misses a route.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { routes } from '../functions/routes.js';
import { HTTP_DOCS, HTTP_ROUTES, type HttpResponseContract } from '../protocol/http.js';
import * as z from '../protocol/zod.js';

export const OPENAPI_FILE = resolve(import.meta.dirname, '../docs/openapi.json');

type Json = Record<string, unknown>;

const ERROR_RESPONSES: Record<number, string> = {
  400: 'Invalid input: `bad_request` (the message names the field) or `invalid_json`',
  401: 'API Gateway refused the token (missing, malformed, forged or expired)',
  403: '`forbidden`: not a member, or the role does not allow it',
  404: '`not_found`: no such room or membership',
  409: '`conflict` or `limit_exceeded`',
  413: '`payload_too_large`: the body is over 64 KiB',
  429: '`rate_limited`: too many messages from this user; retry later',
  500: '`internal`: a bug, logged with the request id',
  503: '`unavailable`: storage did not answer in time, or a message was not stored; retry',
};

/** JSON Schema 2020-12 (what OpenAPI 3.1 uses), with references to components. */
function jsonSchema(schema: z.ZodMiniType): Json {
  const id = HTTP_DOCS.get(schema)?.id;
  if (id) return { $ref: `#/components/schemas/${id}` };
  // Input mode: what a client may send or must expect, without `additionalProperties: false`
  // (responses may gain fields; request bodies ignore unknown ones).
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', metadata: HTTP_DOCS });
  return rest;
}

const componentUri = (id: string) => `#/components/schemas/${id}`;
/** Locale-independent, so every machine writes the same file. */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function components(): Json {
  const { schemas } = z.toJSONSchema(HTTP_DOCS, { target: 'draft-2020-12', io: 'input', metadata: HTTP_DOCS, uri: componentUri });
  return Object.fromEntries(
    Object.entries(schemas)
      .sort(([a], [b]) => byCodeUnits(a, b))
      .map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );
}

function parameters(where: 'path' | 'query', object: z.ZodMiniObject | undefined): Json[] {
  if (!object) return [];
  const converted = jsonSchema(object) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(converted.properties ?? {}).map(([name, { description, ...schema }]) => ({
    name,
    in: where,
    required: where === 'path' || (converted.required ?? []).includes(name),
    ...(description !== undefined && { description }),
    schema,
  }));
}

function response({ description, body, headers }: HttpResponseContract): Json {
  return {
    description,
    ...(headers && {
      headers: Object.fromEntries(Object.entries(headers).map(([name, h]) => [name, { description: h.description, schema: jsonSchema(h.schema) }])),
    }),
    ...(body && { content: { 'application/json': { schema: jsonSchema(body) } } }),
  };
}

/** `functions/handlers/create-room.ts` → `createRoom`. */
const operationId = (entry: string) =>
  entry
    .replace(/^.*\//, '')
    .replace(/\.ts$/, '')
    .replace(/-(.)/g, (_, c: string) => c.toUpperCase());

export function buildOpenApi(): Json {
  const routeKeys = new Set(routes.map((r) => r.routeKey));
  const problems = [
    ...[...routeKeys].filter((k) => !HTTP_ROUTES[k]).map((k) => `${k} is in functions/routes.ts but has no contract in protocol/http.ts`),
    ...Object.keys(HTTP_ROUTES).filter((k) => !routeKeys.has(k)).map((k) => `${k} has a contract in protocol/http.ts but is not in functions/routes.ts`),
  ];
  if (problems.length > 0) throw new Error(`The HTTP contract and the route list disagree:\n  - ${problems.join('\n  - ')}`);

  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const [method, path] = route.routeKey.split(' ') as [string, string];
    const contract = HTTP_ROUTES[route.routeKey]!;
    const errorStatuses = [...new Set([...contract.errors, 401, 500])].sort();
    (paths[path] ??= {})[method.toLowerCase()] = {
      operationId: operationId(route.entry),
      summary: contract.summary,
      parameters: [...parameters('path', contract.path), ...parameters('query', contract.query)],
      ...(contract.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(contract.body) } } } }),
      ...(contract.scope && { security: [{ bearerJwt: [contract.scope] }] }),
      responses: {
        ...Object.fromEntries(Object.entries(contract.responses).map(([status, r]) => [status, response(r)])),
        ...Object.fromEntries(errorStatuses.map((status) => [String(status), { $ref: `#/components/responses/${status}` }])),
        // A token without the route's scope is refused by the gateway, in its own shape.
        ...(contract.scope && {
          403: {
            description: `The token lacks the \`${contract.scope}\` scope: refused by the gateway (\`{"message":"Forbidden"}\`), or \`forbidden\` from the function`,
            content: { 'application/json': { schema: { oneOf: [{ $ref: componentUri('GatewayForbidden') }, { $ref: componentUri('Error') }] } } },
          },
        }),
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Townsquare HTTP API',
      version: '2',
      description:
        'Generated by `npm run openapi` from protocol/http.ts; docs/http-api.md has the rules behind each route. Every route requires a bearer JWT; the caller is its `sub`.',
    },
    security: [{ bearerJwt: [] }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => byCodeUnits(a, b))),
    components: {
      securitySchemes: { bearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: components(),
      responses: Object.fromEntries(
        Object.entries(ERROR_RESPONSES).map(([status, description]) => [
          status,
          {
            description,
            ...(status === '429' && { headers: { 'retry-after': { description: 'Seconds to wait before sending again', schema: { type: 'integer', minimum: 1 } } } }),
            content: { 'application/json': { schema: { $ref: componentUri(status === '401' ? 'GatewayUnauthorized' : 'Error') } } },
          },
        ]),
      ),
    },
  };
}

export const renderOpenApi = (): string => `${JSON.stringify(buildOpenApi(), null, 2)}\n`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
