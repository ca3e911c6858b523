/** The relay's write path over real sockets: the raw-socket fast path and the public `ws.send` fallback. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SharedFrame } from '../../socket-relay/connection.js';
import { rawSocketOf, WsTransport } from '../../socket-relay/ws-transport.js';

let wss: WebSocketServer;
let url: string;
beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => wss.close(() => r())));

/** A connected pair: the server side's WebSocket and the frames the client receives. */
async function pair() {
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(url);
  const received: string[] = [];
  client.on('message', (data) => received.push(data.toString()));
  await once(client, 'open');
  const [server] = await accepted;
  return { server, client, received };
}

describe('WsTransport', () => {
  it('finds the socket ws 8 keeps privately (the pinned version)', async () => {
    const { server, client } = await pair();
    expect(rawSocketOf(server)).not.toBeNull();
    expect(rawSocketOf({} as WebSocket)).toBeNull();
    client.close();
  });

  it.each([
    ['the raw socket', (ws: WebSocket) => new WsTransport(ws)],
    ['the public ws.send fallback', (ws: WebSocket) => new WsTransport(ws, null)],
  ])('delivers frames in order through %s, then the close', async (_name, make) => {
    const { server, client, received } = await pair();
    const transport = make(server);
    const shared = new SharedFrame('{"type":"message","seq":2}');
    transport.send('{"type":"message","seq":1}');
    transport.sendShared(shared);
    transport.send('{"type":"message","seq":3}');
    expect(transport.bufferedAmount).toBeGreaterThanOrEqual(0);
    transport.close(1000, 'bye');
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1000);
    expect(received.map((f) => JSON.parse(f).seq)).toEqual([1, 2, 3]);
  });
});
