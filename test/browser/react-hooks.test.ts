/**
 * The SDK's React hooks with their effects running, in real headless
 * Chromium (React and react-dom/client bundled with the SDK source by
 * esbuild), against a scripted relay and history route in this process: what
 * onMessage / onGap / onSignal see across an unmount and remount, the shared
 * message cache, and a `limit` change that must not subscribe again.
 */
import { createServer, type Server } from 'node:http';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';

const CHANNEL = 'room:r1';
const UI_TIMEOUT = 20_000;

/** The page: one component using useChannel, mounted and configured from the test through `window.hooks`. */
const APP = `
import { createElement as h, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Townsquare } from './client/src/index.ts';
import { TownsquareProvider, useChannel } from './client/src/react.ts';

const log = { messages: [], gaps: [], signals: [], renders: 0 };
function Channel({ limit }) {
  const { messages, state } = useChannel('${CHANNEL}', {
    limit,
    onMessage: (m) => log.messages.push(m.seq),
    onGap: (g) => log.gaps.push([g.fromSeq, g.toSeq]),
    onSignal: (s) => log.signals.push(s.event),
  });
  log.renders++;
  return h('ul', { 'data-state': state }, messages.map((m) => h('li', { key: m.seq }, String(m.seq))));
}
let set;
function App({ client }) {
  const [props, setProps] = useState({ mounted: true, limit: 500 });
  set = setProps;
  return h(TownsquareProvider, { client }, props.mounted ? h(Channel, { limit: props.limit }) : h('p', null, 'unmounted'));
}
window.hooks = {
  log,
  start(relayUrl, apiUrl) {
    const client = new Townsquare({ relayUrls: relayUrl, apiUrl, getToken: async () => 't' });
    client.connect();
    createRoot(document.getElementById('root')).render(h(App, { client }));
  },
  set: (props) => set((p) => ({ ...p, ...props })),
};
`;

let browser: Browser;
let page: Page;
let relay: WebSocketServer;
let api: Server;
/** History holds seqs firstSeq..end (1 expired). */
let end = 3;
const firstSeq = 2;
const historyAsked: number[] = [];
const frames: string[] = [];
const subscribers = new Set<WebSocket>();

const entry = (seq: number) => ({ seq, id: `m${seq}`, event: 'e', data: { seq }, ts: 1 });
function push(frame: object) {
  for (const ws of subscribers) ws.send(JSON.stringify(frame));
}
const shown = () => page.locator('li').allTextContents();
const log = () => page.evaluate(() => (window as unknown as { hooks: { log: { messages: number[]; gaps: number[][]; signals: string[] } } }).hooks.log);
const setProps = (props: object) => page.evaluate((p) => (window as unknown as { hooks: { set(p: object): void } }).hooks.set(p), props);

beforeAll(async () => {
  relay = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  relay.on('connection', (ws) => {
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; ref?: number; channel?: string };
      frames.push(frame.type);
      if (frame.type === 'auth') ws.send(JSON.stringify({ type: 'welcome', connectionId: 'c1', userId: 'bob', expiresAt: Date.now() + 3_600_000 }));
      if (frame.type === 'subscribe') {
        subscribers.add(ws);
        ws.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, ref: frame.ref }));
      }
      if (frame.type === 'unsubscribe') {
        subscribers.delete(ws);
        ws.send(JSON.stringify({ type: 'unsubscribed', channel: frame.channel, ref: frame.ref }));
      }
      if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong', ref: frame.ref }));
    });
  });
  api = createServer((req, res) => {
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization, content-type' };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    const afterSeq = Number(new URL(req.url!, 'http://x').searchParams.get('afterSeq'));
    historyAsked.push(afterSeq);
    const from = Math.max(afterSeq + 1, firstSeq);
    const messages = Array.from({ length: Math.max(0, end - from + 1) }, (_, i) => entry(from + i));
    res.writeHead(200, { 'content-type': 'application/json', ...cors });
    res.end(JSON.stringify({ messages, nextAfterSeq: null, ...(afterSeq < firstSeq - 1 && { truncated: true, firstSeq }) }));
  });
  await Promise.all([new Promise((r) => relay.once('listening', r)), new Promise<void>((r) => api.listen(0, '127.0.0.1', r))]);

  const bundle = await build({
    stdin: { contents: APP, resolveDir: process.cwd(), loader: 'jsx', sourcefile: 'hooks-page.jsx' },
    bundle: true,
    write: false,
    format: 'iife',
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'warning',
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage();
  page.on('pageerror', (err) => console.error('[page error]', err));
  await page.setContent('<div id="root"></div>');
  await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
  const relayUrl = `ws://127.0.0.1:${(relay.address() as { port: number }).port}/ws`;
  const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
  await page.evaluate(([r, a]) => (window as unknown as { hooks: { start(r: string, a: string): void } }).hooks.start(r!, a!), [relayUrl, apiUrl]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  relay?.close();
  await new Promise((r) => api?.close(r));
});

describe('React hooks in Chromium', { timeout: 60_000 }, () => {
  it('useChannel delivers history and live messages once, and onGap / onSignal registered with the subscription see theirs', async () => {
    await expect.poll(shown, { timeout: UI_TIMEOUT }).toEqual(['2', '3']);
    push({ type: 'message', channel: CHANNEL, ...entry(4) });
    push({ type: 'signal', channel: CHANNEL, event: 'typing', userId: 'alice', data: { on: true } });
    await expect.poll(shown, { timeout: UI_TIMEOUT }).toEqual(['2', '3', '4']);
    await expect.poll(log, { timeout: UI_TIMEOUT }).toMatchObject({ messages: [2, 3, 4], gaps: [[1, 1]], signals: ['typing'] });
  });

  it('after an unmount, a remount shows the cached messages at once and resumes after the last seq: onMessage never sees one twice', async () => {
    await setProps({ mounted: false });
    await expect.poll(() => frames.filter((f) => f === 'unsubscribe').length, { timeout: UI_TIMEOUT }).toBe(1);
    end = 5; // stored while nobody was subscribed
    await setProps({ mounted: true });
    await expect.poll(shown, { timeout: UI_TIMEOUT }).toEqual(['2', '3', '4', '5']);
    expect(historyAsked.at(-1)).toBe(4); // resumed, not replayed from 0
    expect((await log()).messages).toEqual([2, 3, 4, 5]);
  });

  it('a new limit trims the view without subscribing again', async () => {
    const subscribes = frames.filter((f) => f === 'subscribe').length;
    await setProps({ limit: 2 });
    await expect.poll(shown, { timeout: UI_TIMEOUT }).toEqual(['4', '5']);
    push({ type: 'message', channel: CHANNEL, ...entry(6) });
    end = 6;
    await expect.poll(shown, { timeout: UI_TIMEOUT }).toEqual(['5', '6']);
    expect(frames.filter((f) => f === 'subscribe').length).toBe(subscribes);
    expect(frames.filter((f) => f === 'unsubscribe').length).toBe(1);
    expect((await log()).messages).toEqual([2, 3, 4, 5, 6]);
  });
});
