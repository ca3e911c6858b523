/**
 * Fuzz target 5: every route of the HTTP API (read from functions/routes.ts, so
 * new routes are covered), through the API Gateway stand-in and the real
 * handlers: generated bodies (JSON or not, invalid UTF-8, deep nesting, wrong
 * types, huge strings), path parameters (percent-escapes, unicode, very long),
 * query strings, methods and headers, with valid, invalid and no tokens. No
 * answer may be a 5xx; every refusal must carry a documented code; the
 * bystanders' room keeps getting its durable messages meanwhile.
 */
import { request } from 'node:http';
import fc from 'fast-check';
import * as Y from 'yjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routes } from '../../functions/routes.js';
import { HTTP_ROUTES } from '../../protocol/http.js';
import { describe as show, fragmentArb, renderFragment, type Fragment } from './support/arbitraries.js';
import { httpProblem, Tally } from './support/oracles.js';
import { fuzzPlan } from './support/plan.js';
import { pool, startFuzzStack, type FuzzStack } from './support/stack.js';
import { tokenArb, type TokenRecipe } from './support/tokens.js';
import { apiClient } from '../helpers/api.js';

const USERS = ['fz5-u0', 'fz5-u1', 'fz5-u2', 'fz5-u3'];
const BATCH = 40;
const CONCURRENCY = 8;
// 21 routes: more inputs in CI than the default share, so that every route still meets valid tokens and reaches its handler.
const plan = fuzzPlan(0x5eed_0006, { batch: BATCH, msPerInput: 20, ciInputs: 560 });
const utf8Plan = fuzzPlan(0x5eed_0007, { batch: 10, msPerInput: 20 });

type Param =
  | { p: 'member-room' }
  | { p: 'foreign-room' }
  | { p: 'missing-room' }
  | { p: 'caller' }
  | { p: 'user'; id: string }
  | { p: 'text'; s: string }
  | { p: 'escape'; s: string }
  | { p: 'long'; n: number };

type Body =
  | { b: 'none' }
  | { b: 'object'; members: Array<[string, { json: unknown } | { fragment: Fragment }]> }
  | { b: 'fragment'; x: Fragment }
  | { b: 'bytes'; bytes: Uint8Array }
  | { b: 'big'; n: number };

type Auth = { a: 'valid'; user: number } | { a: 'service'; scopes: string[] } | { a: 'none' } | { a: 'token'; t: TokenRecipe } | { a: 'header'; value: string } | { a: 'scheme'; scheme: string; user: number };

interface HttpInput {
  route: number;
  method: string | null;
  params: Param[];
  query: Array<[string, string]> | { raw: string };
  body: Body;
  contentType: string | null;
  auth: Auth;
  headers: Array<[string, string]>;
}

const paramArb: fc.Arbitrary<Param> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Param>({ p: 'member-room' }) },
  { weight: 1, arbitrary: fc.constant<Param>({ p: 'foreign-room' }) },
  { weight: 1, arbitrary: fc.constant<Param>({ p: 'missing-room' }) },
  { weight: 3, arbitrary: fc.constant<Param>({ p: 'caller' }) },
  { weight: 2, arbitrary: fc.constantFrom(...USERS, 'bystander-0', 'bystander-owner', 'auth0|123', 'a@b.c').map((id): Param => ({ p: 'user', id })) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }).map((s): Param => ({ p: 'text', s })) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%E0%A4%A', '%00', '%2F', '%2e%2e', '%25', '%C0%AF', '%FF%FE', '%u0041', '..', '.', '%20', '%0A', '~').map((s): Param => ({ p: 'escape', s })) },
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 20_000 }).map((n): Param => ({ p: 'long', n })) },
);

const BODY_KEYS = ['name', 'userId', 'text', 'clientMessageId', 'role', 'userIds', 'type', 'title', 'body', 'data', 'idempotencyKey', 'afterSeq', 'update', 'clientUpdateId', '__proto__', 'constructor'];

/** Yjs updates for the document routes: real ones (text, a map, an empty update), and bytes that are not one. */
const yjsUpdate = (edit: (doc: Y.Doc) => void) => {
  const doc = new Y.Doc();
  edit(doc);
  return Buffer.from(Y.encodeStateAsUpdate(doc)).toString('base64');
};
const UPDATES = [
  yjsUpdate((d) => d.getText('text').insert(0, 'fuzz')),
  yjsUpdate((d) => d.getMap('m').set('k', [1, 'two', { three: 3 }])),
  yjsUpdate(() => {}),
  Buffer.from('not yjs').toString('base64'),
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).toString('base64'),
  'AAA',
  '',
];
const updateArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...UPDATES) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')) },
  { weight: 1, arbitrary: fc.integer({ min: 96 * 1024 - 10, max: 100 * 1024 }).map((n) => Buffer.alloc(n, 1).toString('base64')) },
);
const memberValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc.constantFrom<unknown>('owner', 'admin', 'member', 'root', ...USERS, 'bystander-0', 'hello', ' ', '\u202Eevil', '\u0000', 'a'.repeat(4001), 'x'.repeat(101)),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map((json) => ({ json })),
  },
  { weight: 1, arbitrary: fragmentArb.map((fragment) => ({ fragment })) },
);
/** A body the routes would take (every member any route reads, valid), with at most one member swapped for junk. */
const plausibleBodyArb: fc.Arbitrary<Body> = fc
  .record({
    values: fc.record({
      name: fc.constantFrom('a room', ' padded ', 'x'),
      userId: fc.constantFrom(...USERS, 'fz5-new'),
      text: fc.constantFrom('hello', 'x'),
      clientMessageId: fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
      role: fc.constantFrom('owner', 'admin', 'member'),
      title: fc.constantFrom('a document', ' padded ', 'x'),
      update: updateArb,
      clientUpdateId: fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
    }),
    mutate: fc.option(fc.tuple(fc.constantFrom('name', 'userId', 'text', 'clientMessageId', 'role', 'title', 'update', 'clientUpdateId'), memberValue), { nil: undefined }),
  })
  .map(({ values, mutate }): Body => {
    const members: Array<[string, { json: unknown } | { fragment: Fragment }]> = Object.entries(values).map(([k, v]) => [k, { json: v }]);
    if (mutate) for (const m of members) if (m[0] === mutate[0]) m[1] = mutate[1];
    return { b: 'object', members };
  });

/** A notification the route would take (recipients, mentions of them in `body`, data, a key), with at most one member swapped for junk. */
const plausibleNotifyArb: fc.Arbitrary<Body> = fc
  .record({
    values: fc.record(
      {
        userIds: fc.array(fc.constantFrom(...USERS, 'bystander-0', 'auth0|123', 'a@b.c'), { minLength: 1, maxLength: 6 }),
        type: fc.constantFrom('fz', 'order.shipped', 'mention'),
        title: fc.constantFrom('t', 'A title'),
        body: fc.constantFrom('', 'hello', `@${USERS[1]}`),
        data: fc.jsonValue({ maxDepth: 3 }),
        idempotencyKey: fc.stringMatching(/^[A-Za-z0-9_-]{1,4}$/),
      },
      { requiredKeys: ['userIds', 'type', 'title', 'body'] },
    ),
    mutate: fc.option(fc.tuple(fc.constantFrom('userIds', 'type', 'title', 'body', 'data', 'idempotencyKey'), memberValue), { nil: undefined }),
  })
  .map(({ values, mutate }): Body => {
    const members: Array<[string, { json: unknown } | { fragment: Fragment }]> = Object.entries(values).map(([k, v]) => [k, { json: v }]);
    if (mutate) {
      const at = members.findIndex((m) => m[0] === mutate[0]);
      if (at >= 0) members[at]![1] = mutate[1];
      else members.push(mutate);
    }
    return { b: 'object', members };
  });

const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 4, arbitrary: plausibleBodyArb },
  { weight: 2, arbitrary: plausibleNotifyArb },
  { weight: 2, arbitrary: fc.constant<Body>({ b: 'none' }) },
  { weight: 6, arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...BODY_KEYS), fc.string({ maxLength: 10 })), memberValue), { maxLength: 4 }).map((members): Body => ({ b: 'object', members })) },
  { weight: 2, arbitrary: fragmentArb.map((x): Body => ({ b: 'fragment', x })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): Body => ({ b: 'bytes', bytes })) },
  {
    weight: 1,
    arbitrary: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 60_000, max: 200_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 10 * 1024 * 1024 - 100, max: 11 * 1024 * 1024 }) }).map((n): Body => ({ b: 'big', n })),
  },
);

const queryArb = fc.oneof(
  fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom('afterSeq', 'limit', 'cursor', 'unread', 'role', 'stateVector'), fc.string({ maxLength: 10 })),
      fc.oneof(
        fc.constantFrom('0', '1', '-1', '1.5', '1e3', '101', '1e999', 'NaN', '', ' 1', '0x10', '9007199254740993', 'true', '[]', 'AA', 'AQHk', '////', 'A'.repeat(6000)),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('base64url')),
      ),
    ),
    { maxLength: 4 },
  ),
  fc.oneof(fc.constantFrom('%', '%zz', '&&&', '=', 'limit=%', 'a=%E0%A4%A', 'limit=1&limit=2', `x=${'y'.repeat(9000)}`), fc.string({ maxLength: 60 })).map((raw) => ({ raw })),
);

const authArb = (users: readonly string[]): fc.Arbitrary<Auth> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.nat(users.length - 1).map((user): Auth => ({ a: 'valid', user })) },
    // A backend's token: the notify scope (or another, or several) for the server-to-server route.
    { weight: 2, arbitrary: fc.constantFrom(['notify'], ['notify', 'other'], ['read'], ['NOTIFY'], ['notif']).map((scopes): Auth => ({ a: 'service', scopes: [...scopes] })) },
    { weight: 1, arbitrary: fc.constant<Auth>({ a: 'none' }) },
    { weight: 2, arbitrary: tokenArb(users).map((t): Auth => ({ a: 'token', t })) },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.constantFrom('Bearer', 'Bearer ', 'Bearer  x', 'Basic YTpi', 'bearer', 'Bearer a b c', 'Bearer '.repeat(300)), fc.string({ maxLength: 80 })).map((value): Auth => ({ a: 'header', value })),
    },
    { weight: 1, arbitrary: fc.record({ a: fc.constant('scheme' as const), scheme: fc.constantFrom('bearer', 'BEARER', 'Bearer  ', 'Token', ''), user: fc.nat(users.length - 1) }) },
  );

/** A scoped route (server to server) gets a backend's token with its scope half the time, so that every run reaches its handler. */
const routeAuthArb = (route: number): fc.Arbitrary<Auth> => {
  const scope = routes[route]!.scope;
  return scope === undefined ? authArb(USERS) : fc.oneof({ weight: 1, arbitrary: fc.constant<Auth>({ a: 'service', scopes: [scope] }) }, { weight: 1, arbitrary: authArb(USERS) });
};

const inputArb: fc.Arbitrary<HttpInput> = fc.nat(routes.length - 1).chain((route) =>
  fc.record({
    route: fc.constant(route),
    // Mostly the route's own method (null); sometimes another one.
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'get', 'TRACE') },
    ),
    params: fc.array(paramArb, { minLength: 3, maxLength: 3 }),
    query: queryArb,
    body: bodyArb,
    contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/octet-stream'), { nil: null, freq: 3 }),
    auth: routeAuthArb(route),
    headers: fc.array(
      fc.oneof(
        fc.constantFrom<[string, string]>(['content-encoding', 'gzip'], ['x-forwarded-for', '1.2.3.4, 5.6.7.8'], ['accept', '*/*'], ['x-amz-date', 'x'], ['expect', '100-continue']),
        fc.tuple(fc.stringMatching(/^x-[a-z]{1,10}$/), fc.string({ maxLength: 40 })),
      ),
      { maxLength: 2 },
    ),
  }),
);

let fuzz: FuzzStack;
let memberRoom: string;
/** A document the fuzz users collaborate on, and one they do not. */
let memberDoc: string;
let foreignDoc: string;
/** Per user: notification ids in their inbox, for the `{id}` of the mark-read route. */
const notificationIds = new Map<string, string>();
const tally = new Tally();
const utf8Tally = new Tally();

beforeAll(async () => {
  fuzz = await startFuzzStack();
  memberRoom = await fuzz.createRoom(USERS[0]!, USERS.slice(1));
  memberDoc = await createDocument(USERS[0]!, USERS.slice(1));
  foreignDoc = await createDocument('bystander-owner', []);
  const sent = await apiClient(fuzz.stack.apiUrl, await fuzz.stack.issuer.mint('fz5-backend', { scopes: ['notify'] })).post('/notifications', {
    userIds: USERS,
    type: 'fz',
    title: 'seed',
    body: '',
  });
  expect(sent.status).toBe(201);
  for (const r of sent.body.results as Array<{ userId: string; id: string }>) notificationIds.set(r.userId, r.id);
}, 120_000);

async function createDocument(owner: string, collaborators: readonly string[]): Promise<string> {
  const api = apiClient(fuzz.stack.apiUrl, await fuzz.token(owner));
  const created = await api.post('/documents', { title: 'fuzzed' });
  expect(created.status).toBe(201);
  for (const userId of collaborators) expect((await api.post(`/documents/${created.body.docId}/collaborators`, { userId })).status).toBe(201);
  return created.body.docId;
}

/**
 * The requests leave rooms, remove members and change roles: a fresh room every
 * tenth batch keeps most requests coming from members. Refusals (e.g. a cap on the
 * rooms a user is put into) keep the previous room.
 */
let batches = 0;
async function maybeFreshRoom(): Promise<void> {
  if (++batches % 10 !== 0) return;
  memberRoom = await fuzz.createRoom('fz5-owner', USERS).catch(() => memberRoom);
  memberDoc = await createDocument('fz5-owner', USERS).catch(() => memberDoc);
}
afterAll(() => fuzz?.stop());

/** A path parameter; `name` is the route's (`roomId`, `userId`, `channel`, or one a new route brings). */
function renderParam(p: Param, name: string, caller: string): string {
  // A channel parameter names rooms and users as channels (`room:{id}`, `user:{id}`).
  // A notification id: the caller's own (stored at the start), or one of another user's.
  if (name === 'id' && (p.p === 'caller' || p.p === 'member-room')) return notificationIds.get(caller) ?? notificationIds.get(USERS[0]!)!;
  if (name === 'id' && p.p === 'user') return notificationIds.get(p.id) ?? '000000000-AAAAAAAAAAAAAAAA';
  const channel = /channel/i.test(name);
  // A document parameter (`docId`) names documents where others name rooms.
  if (name === 'docId' && (p.p === 'member-room' || p.p === 'foreign-room' || p.p === 'missing-room')) {
    return { 'member-room': memberDoc, 'foreign-room': foreignDoc, 'missing-room': 'd_doesnotexist' }[p.p];
  }
  const room = (id: string) => (channel ? encodeURIComponent(`room:${id}`) : id);
  const user = (id: string) => encodeURIComponent(channel ? `user:${id}` : id);
  switch (p.p) {
    case 'member-room':
      return room(memberRoom);
    case 'foreign-room':
      return room(fuzz.bystanders.roomId);
    case 'missing-room':
      return room('r_doesnotexist');
    case 'caller':
      return user(caller);
    case 'user':
      return user(p.id);
    case 'text':
      return encodeURIComponent(p.s.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
    case 'escape':
      return p.s;
    case 'long':
      return 'r'.repeat(p.n);
  }
}

function renderBody(body: Body): Buffer | null {
  switch (body.b) {
    case 'none':
      return null;
    case 'object':
      return Buffer.from(`{${body.members.map(([k, v]) => `${JSON.stringify(k)}:${'json' in v ? (JSON.stringify(v.json) ?? 'null') : renderFragment(v.fragment)}`).join(',')}}`);
    case 'fragment':
      return Buffer.from(renderFragment(body.x));
    case 'bytes':
      return Buffer.from(body.bytes);
    case 'big':
      return Buffer.from(`{"text":"${'x'.repeat(body.n)}"}`);
  }
}

interface Answer {
  status: number;
  body: string;
}

function send(method: string, path: string, headers: Record<string, string>, body: Buffer | null): Promise<Answer> {
  const url = new URL(fuzz.stack.apiUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, agent: false, headers: { ...headers, ...(body && { 'content-length': String(body.length) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** Builds and sends one request; null when the request itself cannot be sent (e.g. a header Node refuses to write). */
async function throwOne(input: HttpInput): Promise<{ method: string; path: string; answer: Answer | null; caller: string | null }> {
  const route = routes[input.route]!;
  const [routeMethod, template] = route.routeKey.split(' ') as [string, string];
  const caller = input.auth.a === 'valid' || input.auth.a === 'scheme' ? USERS[input.auth.user]! : null;
  let i = 0;
  let path = template.replace(/\{(\w+)\}/g, (_, name: string) => renderParam(input.params[i++ % input.params.length]!, name, caller ?? USERS[0]!));
  if (Array.isArray(input.query)) {
    if (input.query.length > 0) path += `?${input.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))}`).join('&')}`;
  } else {
    path += `?${encodeURI(input.query.raw.replace(/[\uD800-\uDFFF]/g, '\uFFFD')).replace(/%25/g, '%')}`;
  }
  const method = input.method ?? routeMethod;
  const headers: Record<string, string> = Object.fromEntries(input.headers);
  if (input.contentType !== null) headers['content-type'] = input.contentType;
  switch (input.auth.a) {
    case 'valid':
      headers.authorization = `Bearer ${await fuzz.token(USERS[input.auth.user]!)}`;
      break;
    case 'service':
      headers.authorization = `Bearer ${await serviceToken(input.auth.scopes)}`;
      break;
    case 'token':
      headers.authorization = `Bearer ${await fuzz.tokens.render(input.auth.t)}`;
      break;
    case 'header':
      headers.authorization = input.auth.value;
      break;
    case 'scheme':
      headers.authorization = `${input.auth.scheme} ${await fuzz.token(USERS[input.auth.user]!)}`;
      break;
  }
  let answer: Answer | null;
  try {
    answer = await send(method, path, headers, renderBody(input.body));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Node refuses to write some requests (bad header characters, unescaped path): not the server's doing.
    if (code === 'ERR_INVALID_CHAR' || code === 'ERR_UNESCAPED_CHARACTERS' || code === 'ERR_INVALID_HTTP_TOKEN' || code === 'ERR_HTTP_INVALID_HEADER_VALUE') answer = null;
    else throw err;
  }
  return { method, path, answer, caller };
}

const serviceTokens = new Map<string, Promise<string>>();
const serviceToken = (scopes: string[]) => {
  const key = scopes.join(' ');
  let t = serviceTokens.get(key);
  if (!t) serviceTokens.set(key, (t = fuzz.stack.issuer.mint('fz5-backend', { scopes })));
  return t;
};

/** `status` or `status:code`, for the tally. */
function answerKey(answer: Answer): string {
  const code = /"code":"(\w+)"/.exec(answer.body)?.[1];
  return code ? `${answer.status}:${code}` : String(answer.status);
}

/** Routes whose handler answered at least once (an `{"error":{"code"}}` body or a 2xx), not only the gateway. */
const reachedHandler = new Set<string>();

function judge(input: HttpInput, sent: Awaited<ReturnType<typeof throwOne>>): string | null {
  const { answer, method, caller } = sent;
  if (!answer) return null;
  tally.add(answerKey(answer));
  if (answer.status < 300 || answer.body.includes('"error":{"code"')) reachedHandler.add(routes[input.route]!.routeKey);
  if (method === 'HEAD') return answer.status >= 500 ? `HEAD answered ${answer.status}` : null;
  // The HTTP parser's own refusal of an oversize request line (Node's 16 KiB header limit in
  // the stand-in; API Gateway has its own), before any routing: no body to judge.
  if (answer.status === 431 || answer.status === 414) return null;
  const definition = routes[input.route]!;
  const scoped = definition.scope !== undefined && method === definition.routeKey.split(' ')[0];
  // The gateway's own refusal of a token without the route's scope (API Gateway's shape).
  if (scoped && answer.status === 403 && answer.body === '{"message":"Forbidden"}') {
    return input.auth.a === 'service' && input.auth.scopes.includes(definition.scope!) ? 'a token with the scope was refused by the gateway' : null;
  }
  const problem = httpProblem(answer.status, answer.body);
  if (problem) return problem;
  if (scoped && answer.status < 300 && !(input.auth.a === 'service' && input.auth.scopes.includes(definition.scope!))) {
    return `${definition.routeKey} answered ${answer.status} to a token without the ${definition.scope} scope`;
  }
  // Never a silent partial success: one result per distinct recipient, and counts that add up.
  if (scoped && answer.status < 300) {
    const out = JSON.parse(answer.body) as { stored: number; duplicates: number; failed: number; results: Array<{ status: string }> };
    const count = (status: string) => out.results.filter((r) => r.status === status).length;
    if (out.stored !== count('stored') || out.duplicates !== count('duplicate') || out.failed !== count('failed') || out.failed > 0) {
      return `notification results do not add up (or some failed): ${answer.body.slice(0, 200)}`;
    }
  }
  // Identity comes from the token, never from the body.
  const route = definition.routeKey;
  if (answer.status < 300 && (route === 'POST /rooms/{roomId}/messages' || route === 'POST /documents/{docId}/updates') && method === 'POST' && caller) {
    const stored = JSON.parse(answer.body) as { userId?: unknown };
    if (stored.userId !== caller) return `a message sent by ${caller} was stored as ${String(stored.userId)}`;
  }
  return null;
}

it(`API answers hostile requests on every route without a 5xx or an undocumented code (${plan.label})`, async () => {
  fuzz.bystanders.begin();
  let thrown = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(inputArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      await maybeFreshRoom();
      const problems: string[] = [];
      await pool(batch, CONCURRENCY, async (input) => {
        const problem = await throwOne(input)
          .then((sent) => {
            const p = judge(input, sent);
            return p && `${p}\n    ${sent.method} ${sent.path.slice(0, 200)}`;
          })
          .catch((err: Error) => `request failed: ${err.message}`);
        if (problem) problems.push(`${problem}\n    input: ${show(input, 1500)}`);
      });
      thrown += batch.length;
      fuzz.verdict(problems, `of a batch of ${batch.length} requests (${thrown} so far)`);
    }),
    plan.live,
  );
  const { ticks, maxLagMs } = await fuzz.bystanders.check();
  console.info(`http: ${thrown} requests over ${routes.length} routes, seed ${plan.seed}; bystanders got ${ticks} ticks, worst lag ${maxLagMs} ms\n  answers: ${tally}`);
  if (!plan.replaying) expect(thrown).toBe(plan.inputs);
  // Had tokens stopped working, every answer would be the gateway's 401 and nothing above could fail.
  if (!plan.replaying) expect([...reachedHandler].sort()).toEqual(routes.map((r) => r.routeKey).sort());
}, plan.timeoutMs);

/** Invalid UTF-8 sequences: a stray continuation byte, overlong forms, a surrogate, a truncated sequence, 0xFF. */
const badUtf8 = fc.constantFrom([0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff], [0xf5, 0x80, 0x80, 0x80]);

it(`API refuses a body that is not valid UTF-8 on every route, never stores it (${utf8Plan.label})`, async () => {
  fuzz.bystanders.begin();
  // Routes that take a body (marking read takes none, and reads none).
  const writeRoutes = routes.map((r, i) => ({ r, i })).filter(({ r }) => /^(POST|PATCH|PUT) /.test(r.routeKey) && HTTP_ROUTES[r.routeKey]?.body !== undefined);
  let thrown = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(writeRoutes.length - 1), fc.string({ maxLength: 20 }), badUtf8, fc.string({ maxLength: 20 })), { minLength: 10, maxLength: 10 }),
      async (batch) => {
        const problems: string[] = [];
        await pool(batch, 4, async ([r, before, bad, after]) => {
          const route = writeRoutes[r]!.r;
          const [method, template] = route.routeKey.split(' ') as [string, string];
          const path = template.replace(/\{(\w+)\}/g, (_, name: string) => renderParam(/room/i.test(name) ? { p: 'member-room' } : { p: 'user', id: USERS[1]! }, name, USERS[0]!));
          // Every string member a route may read, each carrying the bad bytes.
          const value = Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]);
          const members = ['name', 'text', 'role', 'title', 'body', 'type'].map((k) => Buffer.concat([Buffer.from(`"${k}":"`), value, Buffer.from('"')]));
          const body = Buffer.concat([Buffer.from('{'), ...members.flatMap((m, k) => (k === 0 ? [m] : [Buffer.from(','), m])), Buffer.from('}')]);
          const token = route.scope ? await serviceToken([route.scope]) : await fuzz.token(USERS[0]!);
          const answer = await send(method, path, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body);
          utf8Tally.add(answerKey(answer));
          const problem = httpProblem(answer.status, answer.body);
          if (problem) problems.push(`${route.routeKey}: ${problem}`);
          else if (answer.status < 300) problems.push(`${route.routeKey} accepted invalid UTF-8 (${Buffer.from(bad).toString('hex')}): ${answer.status} ${answer.body.slice(0, 160)}`);
          // Refused for the bytes themselves, before any field was looked at.
          else if (!answer.body.includes('"code":"invalid_json"')) problems.push(`${route.routeKey} refused invalid UTF-8 for another reason: ${answer.status} ${answer.body.slice(0, 160)}`);
        });
        thrown += batch.length;
        if (problems.length > 0) throw new Error(problems.slice(0, 4).join('\n  '));
      },
    ),
    utf8Plan.live,
  );
  const { ticks, maxLagMs } = await fuzz.bystanders.check();
  console.info(`http, not UTF-8: ${thrown} requests, seed ${utf8Plan.seed}; bystanders got ${ticks} ticks, worst lag ${maxLagMs} ms\n  answers: ${utf8Tally}`);
  if (!utf8Plan.replaying) expect(thrown).toBe(utf8Plan.inputs);
}, utf8Plan.timeoutMs);
