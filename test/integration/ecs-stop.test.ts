/**
 * On ECS, a relay drains when its task starts stopping, not only on SIGTERM:
 * ECS deregisters the task and waits for its connections to close before it
 * signals, so the relay must notice the stop through the task metadata
 * endpoint (here a stand-in HTTP server serving the same `/task` document).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CloseCode } from '../../protocol/index.js';
import { startRelayProcess } from '../../local/relay-process.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
let metadata: Server;
let desiredStatus = 'RUNNING';
let polls = 0;

beforeAll(async () => {
  stack = await startLocalStack({ buildRelay: false, keyFile: '.local/test-keys.json', relays: 0 });
  metadata = createServer((req, res) => {
    if (req.url !== '/task') return void res.writeHead(404).end();
    polls++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ DesiredStatus: desiredStatus, KnownStatus: 'RUNNING' }));
  });
  metadata.listen(0, '127.0.0.1');
  await once(metadata, 'listening');
});
afterAll(async () => {
  metadata?.close();
  await stack?.stop();
});

it('drains with 1012 and exits 0 once the task metadata says the task is stopping, before any signal', async () => {
  const uri = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}`;
  const relay = await startRelayProcess({ ...stack.relayEnv, ECS_CONTAINER_METADATA_URI_V4: uri });
  try {
    const client = await TestClient.connect(relay.wsUrl, await stack.issuer.mint('bob'));
    // Polled while running, and nothing happens.
    const seen = polls;
    await new Promise((r) => setTimeout(r, 2500));
    expect(polls).toBeGreaterThan(seen);
    expect(client.ws.readyState).toBe(client.ws.OPEN);

    desiredStatus = 'STOPPED';
    const started = Date.now();
    const [closed, [exitCode]] = await Promise.all([client.closed, once(relay.child, 'exit') as Promise<[number]>]);
    expect(closed.code).toBe(CloseCode.RelayRestarting);
    expect(exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    await relay.stop('SIGKILL');
  }
});
