/**
 * Token renewal on an open connection (`refresh`), and the close codes around
 * token expiry, against a real relay process (the production bundle) that
 * verifies tokens against the local issuer's JWKS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode, ServerFrame, shouldReconnect } from '../../protocol/index.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
const clients: TestClient[] = [];
const token = (sub: string, ttlSeconds: number) => stack.issuer.mint(sub, { ttlSeconds });
const connect = async (sub: string, ttlSeconds: number) => {
  const client = await TestClient.connect(stack.relayUrls[0]!, await token(sub, ttlSeconds));
  clients.push(client);
  return client;
};
/** Resolves once `ms` have passed; the assertions after it are about what survived that long. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const expOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).exp as number;
/** Every frame a client received is a well-formed server frame. */
const expectWellFormed = (client: TestClient) => {
  for (const frame of client.frames) expect(ServerFrame.safeParse(frame).success, JSON.stringify(frame)).toBe(true);
};

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json', relays: 1 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stack?.stop();
});

describe('refresh', () => {
  it('keeps a connection open past its old expiry; without it the same token closes with 4005 (reconnect)', async () => {
    const renewed = await connect('alice', 3);
    const control = await connect('alice', 3);
    // The welcome says when the token runs out, so a client knows when to renew.
    const welcomedUntil = renewed.frames[0]!.expiresAt as number;
    expect(welcomedUntil - Date.now()).toBeGreaterThan(0);
    expect(welcomedUntil - Date.now()).toBeLessThanOrEqual(3000);
    const fresh = await token('alice', 600);
    const reply = await renewed.request({ type: 'refresh', token: fresh });
    expect(reply).toEqual({ type: 'refreshed', expiresAt: expOf(fresh) * 1000, ref: expect.any(String) });

    // The control connection is closed by the sweep at its token's expiry…
    const closed = await control.closed;
    expect(closed).toEqual({ code: CloseCode.TokenExpired, reason: 'token expired' });
    expect(shouldReconnect(closed.code)).toBe(true);
    // …and a sweep later the renewed one still answers.
    await pause(1500);
    expect((await renewed.request({ type: 'ping' })).type).toBe('pong');
    expectWellFormed(renewed);
  });

  it("refuses another user's token; the connection stays, and the old expiry still applies", async () => {
    const client = await connect('alice', 3);
    const reply = await client.request({ type: 'refresh', token: await token('mallory', 600) });
    expect(reply).toMatchObject({ type: 'error', code: ErrorCode.Forbidden });
    expect(String(reply.message)).toContain('another user');
    expect((await client.request({ type: 'ping' })).type).toBe('pong');
    expect(await client.closed).toEqual({ code: CloseCode.TokenExpired, reason: 'token expired' });
    expectWellFormed(client);
  });

  it('refuses an expired or forged token with an error frame, and the connection stays open', async () => {
    const client = await connect('alice', 600);
    const expired = await client.request({ type: 'refresh', token: await token('alice', -60) });
    expect(expired).toMatchObject({ type: 'error', code: ErrorCode.TokenExpired, message: 'Refresh refused: token expired' });
    const [header, , signature] = (await token('mallory', 600)).split('.');
    const forged = `${header}.${(await token('alice', 600)).split('.')[1]}.${signature}`;
    expect(await client.request({ type: 'refresh', token: forged })).toMatchObject({ type: 'error', code: ErrorCode.Unauthorized });
    expect(await client.request({ type: 'refresh', token: 'not-a-jwt' })).toMatchObject({ type: 'error', code: ErrorCode.Unauthorized });
    expect(await client.request({ type: 'refresh' })).toMatchObject({ type: 'error', code: ErrorCode.BadRequest });
    expect((await client.request({ type: 'ping' })).type).toBe('pong');
    expectWellFormed(client);
  });

  it('allows 5 refreshes in a burst on one connection, then answers rate_limited', async () => {
    const client = await connect('alice', 600);
    const fresh = await token('alice', 600);
    for (let i = 0; i < 5; i++) expect((await client.request({ type: 'refresh', token: fresh })).type).toBe('refreshed');
    expect(await client.request({ type: 'refresh', token: fresh })).toMatchObject({ type: 'error', code: ErrorCode.RateLimited });
    // Per connection: another connection of the same user is not affected.
    const other = await connect('alice', 600);
    expect((await other.request({ type: 'refresh', token: fresh })).type).toBe('refreshed');
  });

  it('is not a way in: a refresh before auth closes with 4501 (terminal)', async () => {
    const client = await TestClient.open(stack.relayUrls[0]!);
    clients.push(client);
    client.send({ type: 'refresh', token: await token('alice', 600) });
    const closed = await client.closed;
    expect(closed.code).toBe(CloseCode.Unauthorized);
    expect(shouldReconnect(closed.code)).toBe(false);
  });
});

describe('close codes at auth', () => {
  it('closes an expired token with 4005 (fetch a new token, reconnect) and a forged one with 4501 (stop)', async () => {
    const expired = await TestClient.open(stack.relayUrls[0]!);
    const forged = await TestClient.open(stack.relayUrls[0]!);
    clients.push(expired, forged);
    expired.send({ type: 'auth', token: await token('alice', -60) });
    const [header, , signature] = (await token('mallory', 600)).split('.');
    forged.send({ type: 'auth', token: `${header}.${(await token('alice', 600)).split('.')[1]}.${signature}` });
    expect(await expired.closed).toEqual({ code: CloseCode.TokenExpired, reason: 'token expired' });
    expect(await forged.closed).toEqual({ code: CloseCode.Unauthorized, reason: 'token signature is invalid' });
  });
});
