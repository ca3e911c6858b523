/**
 * The demo web app in real headless Chromium against the real local stack
 * (dynalite, redis-server, two relay processes, the demo server): two pages,
 * two users, each on its own relay. The steps build on each other (one
 * conversation), so they run in order in one file. Assertions read the DOM
 * (data-testid attributes); the screenshots in test-output/browser/ are for people.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = 'test-output/browser';
/** Generous: two cores are shared by every test process and a browser. */
const UI_TIMEOUT = 20_000;
const STEP_TIMEOUT = 120_000;

let stack: LocalStack;
let browser: Browser;
let alice: Page;
let bob: Page;
let roomId: string;
/** Every text sent to the room, in order: both pages must end up showing exactly these. */
const sent: string[] = [];

async function relayConnections(index: number): Promise<number> {
  const res = await fetch(`${stack.relays[index]!.url}/healthz`);
  return ((await res.json()) as { connections: number }).connections;
}

async function openAs(userId: string, relay: number, pickerShot?: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${userId} page error]`, err));
  await page.goto(`${stack.demoUrl}/?relay=${relay}`);
  if (pickerShot) {
    await page.getByTestId('user-picker').waitFor();
    await page.screenshot({ path: `${SHOTS}/${pickerShot}` });
  }
  await page.getByTestId(`pick-user-${userId}`).click();
  await expect.poll(() => page.getByTestId('connection-status').getAttribute('data-state'), { timeout: UI_TIMEOUT }).toBe('connected');
  return page;
}

/** The texts of the chat messages the page shows, in DOM order, with their seq. */
function shownMessages(page: Page): Promise<Array<{ seq: number; text: string }>> {
  return page.getByTestId('message').evaluateAll((items) =>
    items.map((li) => ({ seq: Number(li.getAttribute('data-seq')), text: li.querySelector('[data-testid="message-text"]')?.textContent ?? '' })),
  );
}

async function send(page: Page, text: string): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  sent.push(text);
}

function bellCount(page: Page): Promise<number> {
  return page.evaluate(() => Number(document.querySelector('[data-testid="bell-count"]')?.textContent ?? 0));
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // The relay bundle is built once by the global setup.
  stack = await startLocalStack({ relays: 2, buildRelay: false, demo: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('demo app in Chromium: two users on two relays', { timeout: STEP_TIMEOUT }, () => {
  it('alice (relay 1) creates a room and invites bob (relay 2), who sees it in his sidebar', async () => {
    alice = await openAs('alice', 1, '00-pick-user.png');
    bob = await openAs('bob', 2);
    // Each page holds one socket, on the relay its URL asked for.
    await expect.poll(async () => [await relayConnections(0), await relayConnections(1)], { timeout: UI_TIMEOUT }).toEqual([1, 1]);
    expect(await alice.getByTestId('relay-in-use').getAttribute('data-relay')).toBe('1');
    expect(await bob.getByTestId('relay-in-use').getAttribute('data-relay')).toBe('2');

    await alice.getByTestId('new-room').click();
    await alice.getByTestId('new-room-name').fill('launch-plan');
    await alice.getByTestId('new-room-submit').click();
    await expect.poll(() => alice.getByTestId('room-title').textContent(), { timeout: UI_TIMEOUT }).toContain('launch-plan');
    roomId = (await alice.getByTestId('room-item').getAttribute('data-room-id'))!;
    expect(roomId).toMatch(/^[A-Za-z0-9_-]+$/);

    await alice.getByTestId('invite').click();
    await alice.getByTestId('invite-user-id').fill('bob');
    await alice.getByTestId('invite-submit').click();
    await expect.poll(() => alice.getByTestId('invite-status').textContent(), { timeout: UI_TIMEOUT }).toContain('Bob can now see this room');
    await alice.screenshot({ path: `${SHOTS}/01-invite.png` });
    // Escape closes the modal and gives focus back to the button that opened it.
    await alice.keyboard.press('Escape');
    await expect.poll(() => alice.getByTestId('invite-dialog').isVisible()).toBe(false);
    expect(await alice.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('invite');

    // Bob's sidebar learns of the room (the room list is refreshed every few seconds) and opens it.
    await bob.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`).click({ timeout: UI_TIMEOUT });
    await expect.poll(() => bob.getByTestId('room-title').textContent(), { timeout: UI_TIMEOUT }).toContain('launch-plan');

    // Presence: each page shows both users in the room header.
    for (const page of [alice, bob]) {
      await expect.poll(() => page.getByTestId('presence').getAttribute('data-members'), { timeout: UI_TIMEOUT }).toBe('alice,bob');
    }
    await alice.screenshot({ path: `${SHOTS}/01-two-users-alice.png` });
    await bob.screenshot({ path: `${SHOTS}/01-two-users-bob.png` });
  });

  it('bob sees "Alice is typing…" while alice types, then her message, and the indicator goes away; his answer reaches her', async () => {
    await alice.getByTestId('composer-input').pressSequentially('Hi Bob, the launch', { delay: 20 });
    await expect.poll(() => bob.getByTestId('typing-indicator').textContent(), { timeout: UI_TIMEOUT }).toBe('Alice is typing…');
    await bob.screenshot({ path: `${SHOTS}/02-typing.png` });

    await alice.getByTestId('composer-input').pressSequentially(' is on Thursday');
    await alice.getByTestId('composer-input').press('Enter');
    sent.push('Hi Bob, the launch is on Thursday');
    await expect.poll(() => shownMessages(bob), { timeout: UI_TIMEOUT }).toEqual([{ seq: 1, text: 'Hi Bob, the launch is on Thursday' }]);
    await expect.poll(() => bob.getByTestId('typing-indicator').textContent(), { timeout: UI_TIMEOUT }).toBe('');
    // Alice's own page shows it once, the pending copy replaced by the delivered one.
    await expect.poll(() => shownMessages(alice), { timeout: UI_TIMEOUT }).toEqual([{ seq: 1, text: 'Hi Bob, the launch is on Thursday' }]);
    await expect.poll(() => alice.getByTestId('message-pending').count()).toBe(0);

    // And back: bob answers, alice sees it after hers.
    await send(bob, "Great, I'll have the demo ready by then.");
    const both = sent.map((text, i) => ({ seq: i + 1, text }));
    await expect.poll(() => shownMessages(alice), { timeout: UI_TIMEOUT }).toEqual(both);
    await expect.poll(() => shownMessages(bob), { timeout: UI_TIMEOUT }).toEqual(both);
    await bob.screenshot({ path: `${SHOTS}/02-message.png` });
  });

  it("a notification raises bob's unread count on the bell; the inbox lists it and 'mark all read' clears it", async () => {
    expect(await bellCount(bob)).toBe(0);
    const notifier = apiClient(stack.apiUrl, await stack.issuer.mint('release-bot', { scopes: ['notify'] }));
    const res = await notifier.post('/notifications', {
      userIds: ['bob'],
      type: 'deploy',
      title: 'Release 2.4 is live',
      body: 'The launch checklist is green. Nice work!',
      data: { roomId },
    });
    expect(res.status).toBe(201);
    await expect.poll(() => bellCount(bob), { timeout: UI_TIMEOUT }).toBe(1);

    // A mention in chat notifies too.
    await send(alice, '@bob can you double-check the release notes?');
    await expect.poll(() => bellCount(bob), { timeout: UI_TIMEOUT }).toBe(2);

    await bob.getByTestId('bell').click();
    await expect.poll(() => bob.getByTestId('inbox-item').count(), { timeout: UI_TIMEOUT }).toBe(2);
    await expect.poll(() => bob.getByTestId('inbox').textContent()).toContain('Release 2.4 is live');
    await bob.screenshot({ path: `${SHOTS}/03-bell.png` });

    await bob.getByTestId('mark-all-read').click();
    await expect.poll(() => bob.getByTestId('bell-count').count(), { timeout: UI_TIMEOUT }).toBe(0);
    await expect.poll(() => bob.locator('[data-testid="inbox-item"][data-read="false"]').count()).toBe(0);
    // The server agrees once the page's read-all has been answered (the bell clears optimistically, before it).
    const bobApi = apiClient(stack.apiUrl, await stack.issuer.mint('bob'));
    await expect.poll(async () => (await bobApi.get('/me/notifications/unread-count')).body, { timeout: UI_TIMEOUT }).toEqual({ unread: 0 });
    await bob.keyboard.press('Escape');
  });

  it("bob's page survives his relay being SIGKILLed while alice keeps sending: every message once, in order", async () => {
    // Record every state the connection pill shows on bob's page.
    await bob.evaluate(() => {
      const pill = document.querySelector('[data-testid="connection-status"]')!;
      const seen: Array<{ state: string; at: number }> = [{ state: pill.getAttribute('data-state')!, at: Date.now() }];
      (window as unknown as { pillStates: typeof seen }).pillStates = seen;
      new MutationObserver(() => seen.push({ state: pill.getAttribute('data-state')!, at: Date.now() })).observe(pill, { attributes: true, attributeFilter: ['data-state'] });
    });

    const total = 14;
    for (let i = 1; i <= total; i++) {
      if (i === 5) {
        const exit = stack.relays[1]!.stop('SIGKILL');
        expect(await exit).toBe(null); // killed by a signal, not exited
      }
      await send(alice, `update ${i} of ${total}`);
      await new Promise((r) => setTimeout(r, 250)); // a steady rate, under the API's 5 per second per user
    }

    const expected = sent.map((text, i) => ({ seq: i + 1, text }));
    await expect.poll(() => shownMessages(bob), { timeout: 30_000 }).toEqual(expected);
    await expect.poll(() => bob.getByTestId('connection-status').getAttribute('data-state'), { timeout: UI_TIMEOUT }).toBe('connected');
    const seen = await bob.evaluate(() => (window as unknown as { pillStates: Array<{ state: string; at: number }> }).pillStates);
    const states = seen.map((s) => s.state);
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('connected');
    const lost = seen.find((s) => s.state === 'reconnecting')!.at;
    console.log(`bob's page: relay killed, reconnected ${seen.at(-1)!.at - lost} ms after the pill said so; ${expected.length} messages, each once`);
    // Both pages are now on the surviving relay, and bob's says so.
    expect(await relayConnections(0)).toBe(2);
    expect(await bob.getByTestId('relay-in-use').getAttribute('data-relay')).toBe('1');
    // Alice's page shows the same list (nothing pending, nothing twice).
    await expect.poll(() => shownMessages(alice), { timeout: UI_TIMEOUT }).toEqual(expected);
    await bob.screenshot({ path: `${SHOTS}/04-after-relay-kill.png` });
  });

  it('works at phone width: the sidebar becomes a drawer opened from the menu button', async () => {
    await bob.setViewportSize({ width: 390, height: 780 });
    await expect.poll(() => bob.getByRole('button', { name: 'Open menu' }).isVisible()).toBe(true);
    const sidebarLeft = () => bob.locator('.sidebar').evaluate((el) => el.getBoundingClientRect().right);
    await expect.poll(sidebarLeft).toBeLessThanOrEqual(0);
    await bob.screenshot({ path: `${SHOTS}/05-phone.png` });
    await bob.getByRole('button', { name: 'Open menu' }).click();
    await expect.poll(sidebarLeft, { timeout: UI_TIMEOUT }).toBeGreaterThan(200);
    await bob.screenshot({ path: `${SHOTS}/05-phone-menu.png` });
  });
});
