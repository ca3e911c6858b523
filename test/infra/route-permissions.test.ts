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
import { S3Client } from '@aws-sdk/client-s3';
import * as Y from 'yjs';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes, type RouteDefinition } from '../../functions/routes.js';
import { DynamoChannelStore } from '../../functions/adapters/dynamo-stores.js';
import { createDynamoClient } from '../../shared/dynamo-client.js';
import type { TableName } from '../../shared/tables.js';
import { startDynamo, type LocalDynamo } from '../../local/dynamo.js';
import { startS3, type LocalS3 } from '../../local/s3.js';

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;

let dynamo: LocalDynamo;
let s3: LocalS3;
const handlers = new Map<string, Handler>();
/** The route whose handler is running (calls are made one at a time); null: a call of the test's own. */
let current: string | null = null;
/** Per route: the `table action` (or `table Query:index`) calls its handler made. */
const made = new Map<string, Set<string>>();
const originalSend = DynamoDBClient.prototype.send;
const originalS3Send = S3Client.prototype.send;
/** The IAM action each S3 command needs (DeleteObjects needs s3:DeleteObject per key, ListObjectsV2 s3:ListBucket). */
const S3_ACTIONS: Record<string, string> = { GetObject: 'GetObject', PutObject: 'PutObject', DeleteObjects: 'DeleteObject', ListObjectsV2: 'ListBucket' };

function recordS3(command: { constructor: { name: string } }): void {
  if (current === null) return;
  const name = command.constructor.name.replace(/Command$/, '');
  const calls = made.get(current) ?? new Set<string>();
  calls.add(`snapshots ${S3_ACTIONS[name] ?? `unexpected ${name}`}`);
  made.set(current, calls);
}
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
  [...Object.entries(route.dynamo).flatMap(([table, actions]) => actions.map((a) => `${table} ${a}`)), ...(route.snapshots ?? []).map((a) => `snapshots ${a}`)].sort();

beforeAll(async () => {
  dynamo = await startDynamo({ prefix: 'routeperms' });
  s3 = await startS3();
  Object.assign(process.env, dynamo.env, s3.env, { TOWNSQUARE_BROKER: 'memory' });
  delete process.env.SEND_RATE_PER_SECOND;
  delete process.env.REDIS_URL;
  delete process.env.UPSTASH_SECRET_ARN;
  DynamoDBClient.prototype.send = function (this: DynamoDBClient, command: any, ...rest: any[]) {
    record(command);
    return (originalSend as any).call(this, command, ...rest);
  } as typeof originalSend;
  S3Client.prototype.send = function (this: S3Client, command: any, ...rest: any[]) {
    recordS3(command);
    return (originalS3Send as any).call(this, command, ...rest);
  } as typeof originalS3Send;
  for (const route of routes) {
    const mod = (await import(pathToFileURL(resolve(route.entry)).href)) as { handler: Handler };
    handlers.set(route.routeKey, mod.handler);
  }
});
afterAll(async () => {
  DynamoDBClient.prototype.send = originalSend;
  S3Client.prototype.send = originalS3Send;
  process.env = savedEnv;
  await (await import('../../functions/host.js')).closeConnections().catch(() => {});
  await dynamo?.stop();
  await s3?.stop();
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

/** A Yjs update appending `text` to `doc` (a large random one when `bytes`), base64. */
function edit(doc: Y.Doc, text: string): string {
  const before = Y.encodeStateVector(doc);
  doc.getText('text').insert(doc.getText('text').length, text);
  return Buffer.from(Y.encodeStateAsUpdate(doc, before)).toString('base64');
}
const noise = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7919 + n) % 89))).join('');

describe('every route calls exactly the DynamoDB (and S3) actions it declares', () => {
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
    expect((await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, mentioning)).status).toBe(200); // replay: stores alice's now
    expect((await call('POST /rooms/{roomId}/messages', bob, { roomId: room }, mentioning)).status).toBe(200); // replay: finds item and entry

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
    // Each mark's event finds its seq taken (a tombstone), and reads it back to see whose it is.
    await takeNextSeq(`user:${bob}`);
    expect((await call('POST /me/notifications/{id}/read', bob, { id: inbox.body.items[0].id })).body).toEqual({ unread: 0 });
    await takeNextSeq(`user:${carol}`);
    expect((await call('POST /me/notifications/read-all', carol)).body).toEqual({ unread: 0 });

    expect((await call('DELETE /rooms/{roomId}/members/{userId}', alice, { roomId: other, userId: alice })).status).toBe(409);
    expect((await call('DELETE /rooms/{roomId}/members/{userId}', alice, { roomId: room, userId: bob })).status).toBe(204);

    // Documents: create, list, collaborators; updates (a retry, a refusal; large ones compact, into S3 from the
    // fourth on, which reads the previous object back and deletes it); state and history over a hole; removal.
    const doc = (await call('POST /documents', alice, {}, { title: 'permissions' })).body.docId as string;
    expect((await call('GET /documents', alice)).body.documents).toHaveLength(1);
    expect((await call('POST /documents/{docId}/collaborators', alice, { docId: doc }, { userId: bob })).status).toBe(201);
    expect((await call('POST /documents/{docId}/collaborators', alice, { docId: doc }, { userId: carol })).status).toBe(201);
    expect((await call('PATCH /documents/{docId}/collaborators/{userId}', alice, { docId: doc, userId: bob }, { role: 'admin' })).status).toBe(200);
    const ydoc = new Y.Doc();
    const small = { update: edit(ydoc, 'hello'), clientUpdateId: 'perm-u1' };
    expect((await call('POST /documents/{docId}/updates', bob, { docId: doc }, small)).status).toBe(201);
    expect((await call('POST /documents/{docId}/updates', bob, { docId: doc }, small)).status).toBe(200);
    expect((await call('POST /documents/{docId}/updates', mallory, { docId: doc }, { update: edit(new Y.Doc(), 'x'), clientUpdateId: 'm' })).status).toBe(403);
    for (let i = 0; i < 5; i++) {
      expect((await call('POST /documents/{docId}/updates', bob, { docId: doc }, { update: edit(ydoc, noise(90_000 + i)), clientUpdateId: `perm-big${i}` })).status).toBe(201);
    }
    await leaveHole(`document:${doc}`);
    const state = await call('GET /documents/{docId}', carol, { docId: doc });
    expect(state.body.seq).toBe(7);
    expect((await call('GET /documents/{docId}', mallory, { docId: doc })).status).toBe(403);
    await leaveHole(`document:${doc}`);
    expect((await call('GET /documents/{docId}/updates', carol, { docId: doc })).body.messages).toHaveLength(8);
    expect((await call('GET /documents/{docId}/updates', mallory, { docId: doc })).status).toBe(403);
    expect((await call('GET /channels/{channel}/messages', bob, { channel: 'document:d_missing' })).status).toBe(404);
    expect((await call('DELETE /documents/{docId}/collaborators/{userId}', alice, { docId: doc, userId: alice })).status).toBe(409);
    expect((await call('DELETE /documents/{docId}/collaborators/{userId}', alice, { docId: doc, userId: bob })).status).toBe(204);

    // Every route ran, and made only calls it declares; together the scenarios made every declared call.
    // Every problem at once, so that one route's finding does not hide another's.
    const problems: string[] = [];
    for (const route of routes) {
      const calls = [...(made.get(route.routeKey) ?? [])].sort();
      if (calls.length === 0) problems.push(`${route.routeKey}: never ran`);
      const undeclared = calls.filter((c) => !declared(route).includes(c));
      if (undeclared.length) problems.push(`${route.routeKey}: calls it does not declare (IAM would refuse them): ${undeclared.join(', ')}`);
      const unused = declared(route).filter((d) => !calls.includes(d));
      if (unused.length) problems.push(`${route.routeKey}: declared but never called: ${unused.join(', ')}`);
    }
    expect(problems).toEqual([]);
  });
});
