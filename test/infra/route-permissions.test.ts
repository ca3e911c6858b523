/**
 * The DynamoDB actions each route declares (functions/routes.ts, from which
 * infra grants its IAM policy: test/infra/api-contract.test.ts) against what
 * its handler really calls. Every handler runs as Lambda runs it (the handler
 * export, a payload v2 event, the container's stores) on dynalite, through
 * scenarios that reach each store call it can make: success, refusal,
 * idempotent retry, gap filling, owner leaving. Every call a route makes must
 * be declared (else IAM would refuse it in AWS and the route answer 500), and
 * every declared action must be made by some scenario (else it is unused).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes, type RouteDefinition } from '../../functions/routes.js';
import { DynamoChannelStore } from '../../functions/adapters/dynamo-stores.js';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import type { TableName } from '../../shared/tables.js';
import { startDynamo, type LocalDynamo } from '../../local/dynamo.js';

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;

let dynamo: LocalDynamo;
const handlers = new Map<string, Handler>();
/** The route whose handler is running (calls are made one at a time); null: a call of the test's own. */
let current: string | null = null;
/** Per route: the `table action` (or `table Query:index`) calls its handler made. */
const made = new Map<string, Set<string>>();
const originalSend = DynamoDBClient.prototype.send;
const savedEnv = { ...process.env };

function record(command: { constructor: { name: string }; input: Record<string, any> }): void {
  if (current === null) return;
  const logical = Object.fromEntries(Object.entries(dynamo.tables).map(([name, physical]) => [physical, name])) as Record<string, TableName>;
  const action = command.constructor.name.replace(/Command$/, '');
  const tables: string[] = command.input.RequestItems ? Object.keys(command.input.RequestItems) : [command.input.TableName];
  const calls = made.get(current) ?? new Set<string>();
  for (const t of tables) calls.add(`${logical[t] ?? `unknown table ${t}`} ${command.input.IndexName ? `${action}:${command.input.IndexName}` : action}`);
  made.set(current, calls);
}

const declared = (route: RouteDefinition): string[] =>
  Object.entries(route.dynamo)
    .flatMap(([table, actions]) => actions.map((a) => `${table} ${a}`))
    .sort();

beforeAll(async () => {
  dynamo = await startDynamo({ prefix: 'routeperms' });
  Object.assign(process.env, dynamo.env, { TOWNSQUARE_BROKER: 'memory' });
  delete process.env.SEND_RATE_PER_SECOND;
  delete process.env.REDIS_URL;
  delete process.env.UPSTASH_SECRET_ARN;
  DynamoDBClient.prototype.send = function (this: DynamoDBClient, command: any, ...rest: any[]) {
    record(command);
    return (originalSend as any).call(this, command, ...rest);
  } as typeof originalSend;
  for (const route of routes) {
    const mod = (await import(pathToFileURL(resolve(route.entry)).href)) as { handler: Handler };
    handlers.set(route.routeKey, mod.handler);
  }
});
afterAll(async () => {
  DynamoDBClient.prototype.send = originalSend;
  process.env = savedEnv;
  await (await import('../../functions/host.js')).closeConnections().catch(() => {});
  await dynamo?.stop();
});

/** Invokes the route's handler as API Gateway would, for `user`. */
async function call(routeKey: string, user: string, params: Record<string, string> = {}, body?: unknown, query?: Record<string, string>, scopes: string[] = []) {
  const [method, pathTemplate] = routeKey.split(' ') as [string, string];
  const rawPath = pathTemplate.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!));
  const event = {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: { 'content-type': 'application/json' },
    ...(query && { queryStringParameters: query }),
    pathParameters: params,
    ...(body !== undefined && { body: JSON.stringify(body) }),
    isBase64Encoded: false,
    requestContext: {
      accountId: 'test',
      apiId: 'test',
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: { sub: user }, scopes } },
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: `req-${Math.random()}`,
      routeKey,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
  current = routeKey;
  try {
    const res = await handlers.get(routeKey)!(event);
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
  } finally {
    current = null;
  }
}

/** Reserves the next seq of `channel` as if a writer had died a minute ago, leaving a hole history must fill. */
async function leaveHole(channel: string): Promise<void> {
  const db = createDynamoClient({ endpoint: dynamo.endpoint });
  try {
    await new DynamoChannelStore(db, dynamo.tables).reserveSeq(channel, Date.now() - 60_000);
  } finally {
    db.destroy();
  }
}

/** Puts a tombstone at the seq `channel` hands out next, as a lost writer's seq filled early would: the next append there fails. */
async function takeNextSeq(channel: string): Promise<void> {
  const db = createDynamoClient({ endpoint: dynamo.endpoint });
  try {
    const store = new DynamoChannelStore(db, dynamo.tables);
    const seq = (await store.head(channel)).lastSeq + 1;
    expect(await store.putEntry({ channel, seq, id: `gap-${seq}`, event: 'gap', data: null, ts: Date.now() })).toBe(true);
  } finally {
    db.destroy();
  }
}

describe('every route calls exactly the DynamoDB actions it declares', () => {
  it('runs each handler through its success, refusal and retry paths', async () => {
    const [alice, bob, carol, mallory] = ['alice-perm', 'bob-perm', 'carol-perm', 'mallory-perm'];
    const room = (await call('POST /rooms', alice, {}, { name: 'permissions' })).body.roomId as string;
    const other = (await call('POST /rooms', alice, {}, { name: 'owner leaves' })).body.roomId as string;
    expect(room && other).toBeTruthy();

    expect((await call('POST /rooms/{roomId}/members', alice, { roomId: room }, { userId: bob })).status).toBe(201);
    expect((await call('POST /rooms/{roomId}/members', alice, { roomId: other }, { userId: carol })).status).toBe(201);
    expect((await call('GET /rooms', alice)).body.rooms).toHaveLength(2);
    expect((await call('PATCH /rooms/{roomId}/members/{userId}', alice, { roomId: room, userId: bob }, { role: 'admin' })).status).toBe(200);

    const send = { text: 'hello', clientMessageId: 'perm-1' };
    const sent = await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, send);
    expect(sent.status).toBe(201);
    const retried = await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, send);
    expect([retried.status, retried.body.id]).toEqual([200, sent.body.id]);
    expect((await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, { text: 'no key' })).status).toBe(201);
    expect((await call('POST /rooms/{roomId}/messages', mallory, { roomId: room }, { text: 'let me in' })).status).toBe(403);

    await leaveHole(`room:${room}`);
    const history = await call('GET /rooms/{roomId}/messages', bob, { roomId: room });
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(['hello', 'no key']);
    expect((await call('GET /rooms/{roomId}/messages', mallory, { roomId: room })).status).toBe(403);

    await leaveHole(`room:${room}`);
    const channel = await call('GET /channels/{channel}/messages', bob, { channel: `room:${room}` });
    expect(channel.body.messages.map((m: { event: string }) => m.event)).toEqual(['message.created', 'message.created', 'gap', 'gap']);
    expect((await call('GET /channels/{channel}/messages', bob, { channel: `user:${bob}` })).status).toBe(200);
    expect((await call('GET /channels/{channel}/messages', mallory, { channel: `room:${room}` })).status).toBe(403);

    // Mentions: a member notified, and one whose user-channel seq is taken (its inbox item taken back: DeleteItem).
    await takeNextSeq(`user:${alice}`);
    const mentioning = { text: `hi @${alice} @${mallory}`, clientMessageId: 'perm-mention' };
    expect((await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, mentioning)).status).toBe(201);
    expect((await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, mentioning)).status).toBe(200); // replay: finds what is stored

    // Notifications: refused without the scope; stored, retried (claim read, items found), one recipient's seq taken.
    const notify = { userIds: [bob, carol], type: 'perm', title: 'Permissions', body: '', idempotencyKey: 'perm-n1' };
    expect((await call('POST /notifications', 'backend', {}, notify)).status).toBe(403);
    await takeNextSeq(`user:${carol}`);
    const notified = await call('POST /notifications', 'backend', {}, notify, undefined, ['notify']);
    expect(notified.status).toBe(207);
    expect(notified.body.results.map((r: { status: string }) => r.status)).toEqual(['stored', 'failed']);
    const again = await call('POST /notifications', 'backend', {}, notify, undefined, ['notify']);
    expect([again.status, again.body.results.map((r: { status: string }) => r.status)]).toEqual([201, ['duplicate', 'stored']]);

    // The inbox: list (all, unread), count, mark one, mark all.
    const inbox = await call('GET /me/notifications', bob);
    expect(inbox.body.items).toHaveLength(1);
    expect((await call('GET /me/notifications', bob, {}, undefined, { unread: 'true' })).body.items).toHaveLength(1);
    expect((await call('GET /me/notifications/unread-count', bob)).body).toEqual({ unread: 1 });
    expect((await call('POST /me/notifications/{id}/read', bob, { id: inbox.body.items[0].id })).body).toEqual({ unread: 0 });
    expect((await call('POST /me/notifications/read-all', carol)).body).toEqual({ unread: 0 });

    expect((await call('DELETE /rooms/{roomId}/members/{userId}', alice, { roomId: other, userId: alice })).status).toBe(409);
    expect((await call('DELETE /rooms/{roomId}/members/{userId}', alice, { roomId: room, userId: bob })).status).toBe(204);

    // Every route ran, and made only calls it declares; together the scenarios made every declared call.
    for (const route of routes) {
      const calls = [...(made.get(route.routeKey) ?? [])].sort();
      expect(calls.length, `${route.routeKey} ran`).toBeGreaterThan(0);
      expect(calls.filter((c) => !declared(route).includes(c)), `${route.routeKey}: calls it does not declare (IAM would refuse them)`).toEqual([]);
      expect(declared(route).filter((d) => !calls.includes(d)), `${route.routeKey}: declared but never called`).toEqual([]);
    }
  });
});
