/**
 * The HTTP API as the synthesized template defines it, checked against the
 * code behind it: CORS exposes every response header a client acts on, and
 * each route's IAM policy grants exactly the DynamoDB actions its route
 * declares (functions/routes.ts; test/infra/route-permissions.test.ts checks
 * the declarations against what the handlers call). Also: the no-WAF warning.
 * Synthesized without bundling (the templates are the same, minus asset code).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { routes, type RouteDefinition } from '../../functions/routes.js';
import { rateLimitedResponse } from '../../functions/lib/send-rate.js';
import { PUBLISHED_HEADER } from '../../protocol/index.js';
import { TABLE_NAMES, type TableName } from '../../shared/tables.js';
import { EXPOSED_RESPONSE_HEADERS, validateRoutes } from '../../infra/lib/api-functions.js';
import { buildApp } from '../../infra/lib/app.js';
import { NO_WAF_WARNING_ID } from '../../infra/lib/relay-edge.js';
import type { TownsquareStack } from '../../infra/lib/townsquare-stack.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 });

const UPSTASH_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:townsquare/upstash-AbCdEf';
const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
const WAF = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/townsquare-relays/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
/** Response headers every browser lets scripts read without CORS exposing them (Fetch standard). */
const CORS_SAFELISTED = ['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma'];

const outdirs: string[] = [];
function synth(context: Record<string, unknown>, region = 'us-east-1'): { stack: TownsquareStack; template: Template } {
  const outdir = mkdtempSync(join(tmpdir(), 'townsquare-contract-'));
  outdirs.push(outdir);
  const { stack } = buildApp({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, nag: false, region, outdir });
  return { stack, template: Template.fromStack(stack) };
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
const resourcesOf = (t: Template, type: string): Resources => t.findResources(type) as Resources;

/** A table ARN (`Fn::GetAtt [id, Arn]`) or an index ARN (`Fn::Join ['', [GetAtt, '/index/x']]`) as `table` / `table/index/x`. */
function resourceName(resource: unknown, tableIds: Record<string, TableName>): string {
  const r = resource as { 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
  if (r['Fn::GetAtt']?.[1] === 'Arn' && tableIds[r['Fn::GetAtt'][0]]) return tableIds[r['Fn::GetAtt'][0]]!;
  if (r['Fn::Join']) {
    const [first, ...rest] = r['Fn::Join'][1];
    return `${resourceName(first, tableIds)}${rest.join('')}`;
  }
  return JSON.stringify(resource);
}

/** Every `dynamodb:Action on table[/index/x]` the role behind a route may do, from the template. */
function grantedPairs(s: { stack: TownsquareStack; template: Template }, routeKey: string): string[] {
  const tableIds = Object.fromEntries(
    TABLE_NAMES.map((n) => [s.stack.getLogicalId(s.stack.data.tables[n].node.defaultChild as never), n]),
  ) as Record<string, TableName>;
  const fn = s.stack.api.functions.get(routeKey)!;
  const roleId = s.stack.getLogicalId(fn.role!.node.defaultChild as never);
  const statements = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Effect: string; Action: string | string[]; Resource: unknown }>);
  const pairs = new Set<string>();
  for (const st of statements) {
    const actions = [st.Action].flat().filter((a) => a.startsWith('dynamodb:'));
    if (actions.length === 0) continue;
    expect(st.Effect).toBe('Allow');
    for (const a of actions) for (const res of [st.Resource].flat()) pairs.add(`${a} on ${resourceName(res, tableIds)}`);
  }
  return [...pairs].sort();
}

/** The same pairs, from the route's declaration. */
function declaredPairs(route: RouteDefinition): string[] {
  return Object.entries(route.dynamo)
    .flatMap(([table, actions]) =>
      actions.map((a) => (a.startsWith('Query:') ? `dynamodb:Query on ${table}/index/${a.slice(6)}` : `dynamodb:${a} on ${table}`)),
    )
    .sort();
}

describe.each([
  { mode: 'elasticache', context: {} },
  { mode: 'upstash', context: { redis: 'upstash', upstashSecretArn: UPSTASH_SECRET.replace('eu-west-1', 'us-east-1') } },
])('the HTTP API ($mode)', ({ context }) => {
  let s: { stack: TownsquareStack; template: Template };
  beforeAll(() => {
    s = synth(context);
  });

  it('lets browser scripts read x-townsquare-published (201) and Retry-After (429) through CORS', () => {
    const [api] = Object.values(resourcesOf(s.template, 'AWS::ApiGatewayV2::Api'));
    const exposed: string[] = api!.Properties.CorsConfiguration.ExposeHeaders;
    expect(exposed.map((h) => h.toLowerCase())).toEqual(expect.arrayContaining([PUBLISHED_HEADER, 'retry-after']));
    // Whatever the code answers with, beyond the safelisted headers, is exposed.
    const answered = [PUBLISHED_HEADER, ...Object.keys(rateLimitedResponse(1500).headers ?? {})].map((h) => h.toLowerCase());
    expect(answered).toContain('retry-after');
    for (const h of answered.filter((h) => !CORS_SAFELISTED.includes(h))) expect(exposed, h).toContain(h);
    expect([...EXPOSED_RESPONSE_HEADERS]).toEqual(exposed);
  });

  it('grants every route exactly the DynamoDB actions it declares, on the tables and indexes it declares', () => {
    expect(s.stack.api.functions.size).toBe(routes.length);
    for (const route of routes) {
      const declared = declaredPairs(route);
      expect(declared.length, `${route.routeKey} declares its DynamoDB actions`).toBeGreaterThan(0);
      expect(grantedPairs(s, route.routeKey), route.routeKey).toEqual(declared);
    }
  });

  it('grants no route an action the issue called out as unused', () => {
    const pairs = (key: string) => grantedPairs(s, key);
    for (const key of ['GET /rooms', 'GET /rooms/{roomId}/messages', 'GET /channels/{channel}/messages']) {
      expect(pairs(key).filter((p) => /UpdateItem|DeleteItem/.test(p)), key).toEqual([]);
    }
    expect(pairs('POST /rooms').filter((p) => /UpdateItem|GetItem/.test(p))).toEqual([]);
    expect(pairs('GET /rooms')).not.toContain('dynamodb:Query on memberships');
    // A send deletes only an inbox item of a mention whose entry could not be stored (functions/domain/notifications.ts).
    expect(pairs('POST /rooms/{roomId}/messages').filter((p) => /Query|DeleteItem/.test(p))).toEqual(['dynamodb:DeleteItem on inbox']);
    // The inbox routes touch nothing of chat; marks write only their event to the user channel.
    for (const key of ['GET /me/notifications', 'GET /me/notifications/unread-count']) expect(pairs(key).every((p) => p.endsWith(' on inbox')), key).toBe(true);
    expect(pairs('POST /notifications').filter((p) => /memberships|rooms/.test(p))).toEqual([]);
  });
});

describe('route declarations', () => {
  const base = routes[0]!;
  const withDynamo = (dynamo: Record<string, string[]>): RouteDefinition => ({ ...base, dynamo: dynamo as RouteDefinition['dynamo'] });

  it('accept the shipped routes', () => {
    expect(() => validateRoutes(routes)).not.toThrow();
  });

  it('refuse an unknown index, a non-Query index action, an unknown action or table', () => {
    expect(() => validateRoutes([withDynamo({ memberships: ['Query:byRoom'] })])).toThrow(/memberships: "Query:byRoom"/);
    expect(() => validateRoutes([withDynamo({ memberships: ['GetItem:byUser'] })])).toThrow(/"GetItem:byUser"/);
    expect(() => validateRoutes([withDynamo({ rooms: ['Scan'] })])).toThrow(/rooms: "Scan"/);
    expect(() => validateRoutes([withDynamo({ rooms: ['Query:byUser'] })])).toThrow(/no indexes/);
    expect(() => validateRoutes([withDynamo({ chats: ['GetItem'] })])).toThrow(/unknown table chats/);
  });

  it('derive reads and writes from the actions', () => {
    const send = routes.find((r) => r.routeKey === 'POST /rooms/{roomId}/messages')!;
    expect([...send.writes].sort()).toEqual(['idempotency', 'inbox', 'messages']); // inbox: mentions
    expect([...send.reads].sort()).toEqual(['idempotency', 'inbox', 'memberships', 'messages', 'rooms']);
    const create = routes.find((r) => r.routeKey === 'POST /rooms')!;
    expect([...create.reads]).toEqual(['memberships']); // the byUser count
  });
});

describe('the relays without a WAF', () => {
  const warnings = (stack: TownsquareStack) =>
    Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no WAF web ACL')).map((w) => String(w.entry.data));

  it('warns at synth outside us-east-1 when no wafWebAclArn is given, naming the fix', () => {
    const { stack } = synth({}, 'eu-west-1');
    const found = warnings(stack);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('wafWebAclArn');
    expect(found[0]).toContain(NO_WAF_WARNING_ID);
  });

  it('stays quiet with a WAF: attached by ARN, made in us-east-1, or no CloudFront at all', () => {
    expect(warnings(synth({ wafWebAclArn: WAF }, 'eu-west-1').stack)).toEqual([]);
    expect(warnings(synth({}, 'us-east-1').stack)).toEqual([]);
    expect(warnings(synth({ certificateArn: CERT }, 'eu-west-1').stack)).toEqual([]);
  });
});
