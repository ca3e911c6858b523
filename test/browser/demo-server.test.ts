/**
 * The demo server (local/demo-server.ts) and what the browser needs from the
 * local API: the bundle and config, the DEV-ONLY token endpoint and its
 * refusals, and CORS as the deployed HTTP API answers it.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ memory: true, demo: true });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** A raw request, so the Host header can be anything (fetch does not let a caller set it). */
function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const postToken = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${stack.demoUrl}/dev/token`, { method: 'POST', headers, body });

describe('demo server', () => {
  it('listens on 127.0.0.1 and serves the page, one JS and one CSS bundle, and config.json naming the API and every relay', async () => {
    expect(stack.demoUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${stack.demoUrl}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('/assets/app.js');
    expect(html).toContain('/assets/app.css');

    const js = await fetch(`${stack.demoUrl}/assets/app.js`);
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect((await js.text()).length).toBeGreaterThan(10_000);
    const css = await fetch(`${stack.demoUrl}/assets/app.css`);
    expect(css.headers.get('content-type')).toContain('text/css');
    expect(await css.text()).toContain('.composer');

    const config = await (await fetch(`${stack.demoUrl}/config.json`)).json();
    expect(config).toEqual({ apiUrl: stack.apiUrl, relayUrls: stack.relayUrls, devTokens: true });
    expect((await fetch(`${stack.demoUrl}/nope`)).status).toBe(404);
  });

  it('mints a dev token for the user named, which the API accepts as that user', async () => {
    const res = await postToken(JSON.stringify({ userId: 'carol' }));
    expect(res.status).toBe(200);
    const { token, userId, expiresAt } = (await res.json()) as { token: string; userId: string; expiresAt: number };
    expect(userId).toBe('carol');
    expect(expiresAt).toBeGreaterThan(Date.now());
    const created = await apiClient(stack.apiUrl, token).post('/rooms', { name: 'design-review' });
    expect(created.status).toBe(201);
    expect(created.body.createdBy).toBe('carol');
  });

  it('refuses a bad user id, a body that is not JSON, a non-JSON content type, an oversized body and a GET, with a clear error', async () => {
    const cases: Array<[Promise<Response>, number, string]> = [
      [postToken(JSON.stringify({ userId: 'not a user id' })), 400, 'body.userId'],
      [postToken(JSON.stringify({})), 400, 'body.userId'],
      [postToken('{"userId":'), 400, 'not JSON'],
      [postToken(JSON.stringify({ userId: 'carol' }), { 'content-type': 'text/plain' }), 415, 'application/json'],
      [postToken(JSON.stringify({ userId: 'x'.repeat(2000) })), 413, 'over 1024 bytes'],
      [fetch(`${stack.demoUrl}/dev/token`), 405, 'POST'],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      expect(res.status).toBe(status);
      const body = (await res.json()) as { token?: string; error: { message: string } };
      expect(body.token).toBeUndefined();
      expect(body.error.message).toContain(message);
    }
  });

  it('answers only loopback host names, so a DNS-rebinding page cannot get tokens', async () => {
    const body = JSON.stringify({ userId: 'carol' });
    const headers = { 'content-type': 'application/json' };
    const evil = await rawRequest(`${stack.demoUrl}/dev/token`, { method: 'POST', headers: { ...headers, host: 'attacker.example:5173' }, body });
    expect(evil.status).toBe(403);
    expect(evil.body).not.toContain('token":');
    const local = await rawRequest(`${stack.demoUrl}/dev/token`, { method: 'POST', headers: { ...headers, host: 'localhost:5173' }, body });
    expect(local.status).toBe(200);
    expect(JSON.parse(local.body).token).toEqual(expect.any(String));
  });
});

describe('local API CORS (as the deployed HTTP API answers it)', () => {
  it('answers a preflight before the authorizer, with the allowed methods and headers', async () => {
    const res = await fetch(`${stack.apiUrl}/rooms/r_1/messages`, {
      method: 'OPTIONS',
      headers: { origin: stack.demoUrl!, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization,content-type,idempotency-key');
    expect(res.headers.get('access-control-max-age')).toBe('3600');
  });

  it('lets a page read every answer, a 401 included, and the headers the API exposes', async () => {
    const unauthorized = await fetch(`${stack.apiUrl}/rooms`, { headers: { origin: stack.demoUrl! } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe('*');

    const token = await stack.issuer.mint('dave');
    const ok = await fetch(`${stack.apiUrl}/rooms`, { headers: { origin: stack.demoUrl!, authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    expect(ok.headers.get('access-control-expose-headers')).toBe('x-townsquare-published,retry-after');
  });
});
