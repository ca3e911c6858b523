/**
 * Shared documents in the demo web app, in real headless Chromium against the
 * real local stack (dynalite, s3rver, redis-server, two relay processes, the
 * demo server): alice on relay 1 and bob on relay 2 edit the same text at the
 * same time in CodeMirror (y-codemirror.next on the SDK's Y.Doc), and each
 * sees the other's text and remote cursor. Assertions read the DOM; the
 * screenshots in test-output/browser/ are for people.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = 'test-output/browser';
/** Generous: two cores are shared by every test process and a browser. */
const UI_TIMEOUT = 20_000;

let stack: LocalStack;
let browser: Browser;
let alice: Page;
let bob: Page;
let docId: string;

async function openAs(userId: string, relay: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${userId} page error]`, err));
  await page.goto(`${stack.demoUrl}/?relay=${relay}`);
  await page.getByTestId(`pick-user-${userId}`).click();
  await expect.poll(() => page.getByTestId('connection-status').getAttribute('data-state'), { timeout: UI_TIMEOUT }).toBe('connected');
  return page;
}

/** The editor's text as CodeMirror shows it, without the remote carets' name labels (widgets inside the lines). */
function editorText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const content = document.querySelector('[data-testid="document-editor"] .cm-content');
    if (!content) return '';
    const copy = content.cloneNode(true) as HTMLElement;
    copy.querySelectorAll('.cm-ySelectionCaret').forEach((caret) => caret.remove());
    return [...copy.querySelectorAll('.cm-line')].map((line) => line.textContent ?? '').join('\n');
  });
}

/** The names on the remote carets y-codemirror.next draws. */
function remoteCarets(page: Page): Promise<string[]> {
  return page.locator('.cm-ySelectionCaret .cm-ySelectionInfo').allTextContents();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
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

describe('shared documents in Chromium: two users on two relays', { timeout: 120_000 }, () => {
  it('alice creates a document and shares it with bob, who opens it from his sidebar', async () => {
    alice = await openAs('alice', 1);
    bob = await openAs('bob', 2);
    await alice.getByTestId('new-document').click();
    await alice.getByTestId('new-document-title').fill('Launch notes');
    await alice.getByTestId('new-document-submit').click();
    await expect.poll(() => alice.getByTestId('document-title').textContent(), { timeout: UI_TIMEOUT }).toContain('Launch notes');
    docId = (await alice.getByTestId('document-view').getAttribute('data-doc-id'))!;
    expect(docId).toMatch(/^d_/);
    await expect.poll(() => alice.getByTestId('document-status').textContent(), { timeout: UI_TIMEOUT }).toBe('Saved');

    await alice.getByTestId('share-document').click();
    await alice.getByTestId('invite-user-id').fill('bob');
    await alice.getByTestId('invite-submit').click();
    await expect.poll(() => alice.getByTestId('invite-status').textContent(), { timeout: UI_TIMEOUT }).toContain('Bob can now see this document');
    await alice.keyboard.press('Escape');

    await bob.locator(`[data-testid="document-item"][data-doc-id="${docId}"]`).click({ timeout: UI_TIMEOUT });
    await expect.poll(() => bob.getByTestId('document-view').getAttribute('data-state'), { timeout: UI_TIMEOUT }).toBe('live');
    for (const page of [alice, bob]) {
      await expect.poll(() => page.getByTestId('presence').getAttribute('data-members'), { timeout: UI_TIMEOUT }).toBe('alice,bob');
    }
  });

  it('both type at once; each page shows the same text with both lines, and the other user’s named caret', async () => {
    const aliceLine = 'Alice: the launch is on Thursday.';
    const bobLine = 'Bob: the demo is ready.';
    await alice.locator('[data-testid="document-editor"] .cm-content').click();
    await alice.keyboard.type(aliceLine, { delay: 15 });
    await expect.poll(() => editorText(bob), { timeout: UI_TIMEOUT }).toBe(aliceLine);

    // Now concurrently: alice goes on at the end of her line, bob writes a line of his own above it.
    await bob.locator('[data-testid="document-editor"] .cm-content').click();
    await bob.keyboard.press('Control+Home');
    await Promise.all([
      (async () => {
        await bob.keyboard.type(bobLine, { delay: 25 });
        await bob.keyboard.press('Enter');
      })(),
      (async () => {
        await alice.keyboard.press('End');
        await alice.keyboard.type(' Ship it!', { delay: 25 });
      })(),
    ]);
    const expected = `${bobLine}\n${aliceLine} Ship it!`;
    await expect.poll(() => editorText(alice), { timeout: UI_TIMEOUT }).toBe(expected);
    await expect.poll(() => editorText(bob), { timeout: UI_TIMEOUT }).toBe(expected);

    // Remote cursors: each page draws the other's caret with their name (awareness over relay signals).
    await expect.poll(() => remoteCarets(alice), { timeout: UI_TIMEOUT }).toEqual(['Bob']);
    await expect.poll(() => remoteCarets(bob), { timeout: UI_TIMEOUT }).toEqual(['Alice']);
    await expect.poll(() => alice.getByTestId('document-cursors').textContent(), { timeout: UI_TIMEOUT }).toContain('Bob');
    // And everything is stored.
    for (const page of [alice, bob]) await expect.poll(() => page.getByTestId('document-status').textContent(), { timeout: UI_TIMEOUT }).toBe('Saved');
    await alice.screenshot({ path: `${SHOTS}/06-documents-alice.png` });
    await bob.screenshot({ path: `${SHOTS}/06-documents-bob.png` });
  });

  it('a reload shows the stored text (from the API) and the other caret again', async () => {
    await bob.reload();
    await expect.poll(() => bob.getByTestId('document-view').getAttribute('data-state'), { timeout: UI_TIMEOUT }).toBe('live');
    await expect.poll(() => editorText(bob), { timeout: UI_TIMEOUT }).toBe(await editorText(alice));
    // Bob's new tab asked the others for their awareness on subscribing: alice's caret is back without waiting for her renewal.
    await expect.poll(() => remoteCarets(bob), { timeout: 5000 }).toEqual(['Alice']);
  });
});
