/**
 * Sends and HTTP retry hints against a real HTTP server in this process that
 * answers as the API does when it fails: 4xx refusals, 5xx, 429 with
 * `Retry-After`, hostile hints. The healthy path runs against the real API in
 * sdk.test.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Townsquare, TownsquareError, type ErrorEvent, type TownsquareOptions } from '../../client/src/index.js';
import { NodeWebSocket } from '../helpers/sdk-harness.js';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
/** Per room: what the next POSTs get (the last one repeats). */
const script = new Map<string, Answer[]>();
const seen: Array<{ roomId: string; clientMessageId: string; text: string; at: number }> = [];
let apiUrl: string;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let raw = '';
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    const match = /^\/rooms\/([^/]+)\/messages$/.exec(req.url ?? '');
    let answer: Answer;
    if (match && req.method === 'POST') {
      const roomId = decodeURIComponent(match[1]!);
      const body = JSON.parse(raw) as { text: string; clientMessageId: string };
      seen.push({ roomId, ...body, at: Date.now() });
      const answers = script.get(roomId) ?? [];
      answer = (answers.length > 1 ? answers.shift() : answers[0]) ?? { status: 500 };
      if (answer.status === 201) answer = { status: 201, body: { id: body.clientMessageId, seq: seen.length, roomId, userId: 'bob', text: body.text, createdAt: new Date().toISOString(), clientMessageId: body.clientMessageId } };
    } else {
      answer = script.get(req.url ?? '')?.[0] ?? { status: 404, body: { error: { code: 'not_found', message: 'no route' } } };
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body === undefined ? JSON.stringify({ error: { code: answer.status >= 500 ? 'unavailable' : 'bad_request', message: `HTTP ${answer.status}` } }) : JSON.stringify(answer.body));
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const clients: Townsquare[] = [];
afterAll(() => clients.forEach((c) => c.close()));
function sdk(options: Partial<TownsquareOptions> = {}) {
  const ts = new Townsquare({ relayUrls: 'ws://127.0.0.1:1/ws', apiUrl, getToken: async () => 't', WebSocket: NodeWebSocket, browserEvents: false, ...options });
  const errors: ErrorEvent[] = [];
  ts.on('error', (e) => errors.push(e));
  clients.push(ts);
  return { ts, errors };
}
const sentTo = (roomId: string) => seen.filter((s) => s.roomId === roomId);

describe('send retries', () => {
  it('retries 5xx, 429 and 409 with the same clientMessageId until stored, but rejects a 4xx refusal at once', async () => {
    script.set('retry', [{ status: 500 }, { status: 503 }, { status: 409 }, { status: 429 }, { status: 201 }]);
    script.set('refused', [{ status: 400, body: { error: { code: 'bad_request', message: 'text too long' } } }]);
    const { ts, errors } = sdk();
    const stored = await ts.send('retry', 'hello');
    const attempts = sentTo('retry');
    expect(attempts).toHaveLength(5);
    expect(new Set(attempts.map((a) => a.clientMessageId))).toEqual(new Set([stored.clientMessageId]));

    const refusal = (await ts.send('refused', 'x').catch((e: unknown) => e)) as TownsquareError;
    expect(refusal).toBeInstanceOf(TownsquareError);
    expect(refusal).toMatchObject({ status: 400, code: 'bad_request', clientMessageId: sentTo('refused')[0]!.clientMessageId });
    expect(sentTo('refused')).toHaveLength(1);
    expect(errors.map((e) => e.kind)).toEqual(['send']);
  });

  it('gives up after sendRetry.maxAttempts with the clientMessageId, which a retry by the app reuses', async () => {
    script.set('down', [{ status: 503 }]);
    const { ts, errors } = sdk({ sendRetry: { maxAttempts: 3 } });
    const err = (await ts.send('down', 'are you there?').catch((e: unknown) => e)) as TownsquareError;
    expect(err).toMatchObject({ name: 'TownsquareError', code: 'send_failed', status: 503 });
    expect(err.message).toMatch(/failed 3 times \(sendRetry.maxAttempts\)/);
    expect(sentTo('down')).toHaveLength(3);
    expect(err.clientMessageId).toBe(sentTo('down')[0]!.clientMessageId);
    expect(errors.at(-1)?.context).toMatchObject({ roomId: 'down', clientMessageId: err.clientMessageId, code: 'send_failed' });
    // The app tries that message again later: same id, so never stored twice.
    script.set('down', [{ status: 201 }]);
    const stored = await ts.send('down', 'are you there?', { clientMessageId: err.clientMessageId });
    expect(stored.clientMessageId).toBe(err.clientMessageId);
    await expect(ts.send('down', 'x', { clientMessageId: 'not valid!' })).rejects.toThrow(/clientMessageId/);
  });

  it('gives up when the deadline passes while the network is down, and other rooms do not wait behind a failing one', async () => {
    let offline = true;
    const fetchImpl: TownsquareOptions['fetch'] = (url, init) => (offline && url.includes('/rooms/offline/') ? Promise.reject(new TypeError('fetch failed')) : (globalThis.fetch as unknown as NonNullable<TownsquareOptions['fetch']>)(url, init));
    script.set('fine', [{ status: 201 }]);
    const { ts } = sdk({ fetch: fetchImpl, sendRetry: { deadlineMs: 1500 } });
    const started = Date.now();
    const stuck = ts.send('offline', 'first').catch((e: unknown) => e);
    const other = await ts.send('fine', 'meanwhile');
    expect(other.text).toBe('meanwhile');
    expect(Date.now() - started).toBeLessThan(1000); // not behind the failing room
    const err = (await stuck) as TownsquareError;
    expect(err).toMatchObject({ code: 'send_failed' });
    expect(err.message).toMatch(/sendRetry.deadlineMs/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    offline = false;
  });

  it('waits as long as Retry-After says on a 429 (not its own shorter backoff)', async () => {
    script.set('busy', [{ status: 429, headers: { 'retry-after': '2' } }, { status: 201 }]);
    const { ts } = sdk();
    await ts.send('busy', 'wait for it');
    const [first, second] = sentTo('busy');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1900);
  });
});

describe('retry hints of HTTP errors', () => {
  it('reads Retry-After, else the body, clamped to 0…60 s', async () => {
    const { ts } = sdk();
    const hintOf = async (answer: Answer) => {
      script.set('/rooms', [answer]);
      const err = (await ts.rooms.list().catch((e: unknown) => e)) as TownsquareError;
      expect(err).toBeInstanceOf(TownsquareError);
      return err.retryAfterMs;
    };
    expect(await hintOf({ status: 429, headers: { 'retry-after': '3' } })).toBe(3000);
    expect(await hintOf({ status: 429, headers: { 'retry-after': '99999999' } })).toBe(60_000);
    expect(await hintOf({ status: 503, body: { error: { code: 'unavailable', message: 'x' }, retryAfterMs: -5 } })).toBe(0);
    expect(await hintOf({ status: 503, body: { error: { code: 'unavailable', message: 'x' }, retryAfterMs: 2 ** 31 } })).toBe(60_000);
    expect(await hintOf({ status: 503, body: { error: { code: 'unavailable', message: 'x' }, retryAfterMs: 'soon' } })).toBeUndefined();
    expect(await hintOf({ status: 503 })).toBeUndefined();
  });
});
