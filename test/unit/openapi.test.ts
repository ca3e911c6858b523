// docs/openapi.json is generated from protocol/http.ts; this keeps it current and complete.
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ChannelHistoryPage as DomainChannelHistoryPage } from '../../functions/domain/channel-history.js';
import type { HistoryPage } from '../../functions/domain/messages.js';
import type { Membership as StoredMembership, Role as DomainRole, Room as DomainRoom } from '../../functions/domain/ports.js';
import type * as rooms from '../../functions/domain/rooms.js';
import { validate } from '../../functions/lib/http.js';
import { routes } from '../../functions/routes.js';
import * as contract from '../../protocol/http.js';
import * as z from '../../protocol/zod.js';
import { OPENAPI_FILE, renderOpenApi } from '../../scripts/openapi.js';

type Doc = {
  paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string }>; responses: Record<string, unknown>; requestBody?: unknown }>>;
  components: Record<string, Record<string, unknown>>;
  security: unknown[];
};

describe('docs/openapi.json', () => {
  const generated = renderOpenApi();
  const doc = JSON.parse(generated) as Doc;

  it('is what `npm run openapi` generates from protocol/http.ts today', () => {
    // On failure: run `npm run openapi` and commit docs/openapi.json.
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(generated);
  });

  it('has every route of functions/routes.ts, with its path parameters, behind the bearer JWT', () => {
    expect(doc.security).toEqual([{ bearerJwt: [] }]);
    expect(doc.components.securitySchemes).toEqual({ bearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } });
    for (const { routeKey } of routes) {
      const [method, path] = routeKey.split(' ') as [string, string];
      const operation = doc.paths[path]?.[method.toLowerCase()];
      expect(operation, routeKey).toBeDefined();
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(operation!.parameters.filter((p) => p.in === 'path').map((p) => p.name), routeKey).toEqual(inPath);
      expect(Object.keys(operation!.responses), routeKey).toEqual(expect.arrayContaining(['401', '500']));
    }
    const operations = Object.values(doc.paths).flatMap((methods) => Object.keys(methods));
    expect(operations).toHaveLength(routes.length);
  });

  it('documents query parameters, bodies and the error body', () => {
    const history = doc.paths['/channels/{channel}/messages']!.get!;
    expect(history.parameters.filter((p) => p.in === 'query')).toEqual([
      expect.objectContaining({ name: 'afterSeq', required: false, schema: expect.objectContaining({ type: 'integer', minimum: 0, default: 0 }) }),
      expect.objectContaining({ name: 'limit', required: false, schema: expect.objectContaining({ minimum: 1, maximum: 200, default: 50 }) }),
    ]);
    const send = doc.paths['/rooms/{roomId}/messages']!.post!;
    expect(send.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/SendMessageRequest' } } } });
    expect(doc.components.schemas!.SendMessageRequest).toMatchObject({ properties: { text: { minLength: 1, maxLength: 4000 } }, required: ['text'] });
    expect(doc.components.schemas!.Error).toMatchObject({
      properties: { error: { properties: { code: { enum: expect.arrayContaining(['forbidden', 'rate_limited']) } }, required: ['code', 'message'] } },
    });
    expect(doc.components.responses!['403']).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
  });

  it('resolves every $ref', () => {
    const refs = [...generated.matchAll(/"\$ref": "#\/components\/(\w+)\/(\w+)"/g)];
    expect(refs.length).toBeGreaterThan(20);
    for (const [, kind, name] of refs) expect(doc.components[kind!]?.[name!], `${kind}/${name}`).toBeDefined();
  });
});

describe('the HTTP contract matches the functions', () => {
  it('describes what the domain returns (checked by the type checker)', () => {
    // Each domain result must be assignable to the documented response type.
    expectTypeOf<DomainRoom>().toExtend<contract.Room>();
    expectTypeOf<rooms.RoomsPage>().toExtend<contract.RoomsPage>();
    expectTypeOf<StoredMembership & { role: DomainRole }>().toExtend<contract.Membership>();
    expectTypeOf<HistoryPage>().toExtend<contract.RoomHistoryPage>();
    expectTypeOf<DomainChannelHistoryPage>().toExtend<contract.ChannelHistoryPage>();
    expect(contract.RoomsPage.safeParse({ rooms: [], nextCursor: null }).success).toBe(true);
  });

  it('parses query strings as the handlers did: coerced, bounded, defaulted', () => {
    expect(z.parse(contract.HistoryQuery, {})).toEqual({ afterSeq: 0, limit: 50 });
    expect(z.parse(contract.HistoryQuery, { afterSeq: '7', limit: '200' })).toEqual({ afterSeq: 7, limit: 200 });
    expect(contract.HistoryQuery.safeParse({ limit: '201' }).success).toBe(false);
    expect(contract.RoomsQuery.safeParse({ limit: '0' }).success).toBe(false);
    expect(contract.SendMessageBody.safeParse({ text: 'x'.repeat(4001) }).success).toBe(false);
    expect(contract.AddMemberBody.safeParse({ userId: 'bob', role: 'owner' }).success).toBe(false);
  });

  it('answers bad input with readable messages without a global zod config', () => {
    expect(() => validate(contract.HistoryQuery, { limit: '500' }, 'query')).toThrow('query.limit: Too big: expected number to be <=200');
    expect(() => validate(contract.SendMessageBody, { text: 5 }, 'body')).toThrow('body.text: Invalid input: expected string, received number');
    expect(() => validate(contract.AddMemberBody, { userId: 'bob', role: 'owner' }, 'body')).toThrow(/^body\.role: must be "member" or "admin"/);
  });
});
