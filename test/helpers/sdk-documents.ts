/** SDK clients with an open document, for the document binding's real-process tests. */
import { Townsquare, type FetchLike, type TownsquareOptions } from '../../client/src/index.js';
import { openDocument, type DocumentErrorEvent, type DocumentHandle, type OpenDocumentOptions } from '../../client/src/documents.js';
import type { LocalStack } from '../../local/stack.js';
import { NodeWebSocket } from './sdk-harness.js';

export interface DocClient {
  user: string;
  ts: Townsquare;
  handle: DocumentHandle;
  errors: DocumentErrorEvent[];
  states: string[];
  /** The text of the `text` Y.Text. */
  text(): string;
}

/** A fetch that counts `POST …/updates` calls and can be cut (offline). */
export function countingFetch(): { fetch: FetchLike; posts: number[]; offline: boolean } {
  const state = {
    posts: [] as number[],
    offline: false,
    fetch: ((url, init) => {
      if (state.offline) return Promise.reject(new TypeError('fetch failed: offline'));
      if (init.method === 'POST' && url.endsWith('/updates')) state.posts.push(Date.now());
      return (globalThis.fetch as unknown as FetchLike)(url, init);
    }) as FetchLike,
  };
  return state;
}

export function newClient(stack: LocalStack, user: string, options: Partial<TownsquareOptions> = {}): Townsquare {
  const ts = new Townsquare({ relayUrls: stack.relayUrls, apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint(user), WebSocket: NodeWebSocket, browserEvents: false, ...options });
  return ts.connect();
}

/** Connects `user` (on `relayUrls`, first one first) and opens `docId`; resolves when the handle is live. */
export async function openAs(stack: LocalStack, user: string, docId: string, options: { client?: Partial<TownsquareOptions>; doc?: OpenDocumentOptions } = {}): Promise<DocClient> {
  const ts = newClient(stack, user, options.client);
  const handle = openDocument(ts, docId, options.doc);
  const errors: DocumentErrorEvent[] = [];
  const states: string[] = [];
  handle.on('error', (e) => errors.push(e));
  handle.on('state', (s) => states.push(s.state));
  await handle.whenLive();
  return { user, ts, handle, errors, states, text: () => handle.doc.getText('text').toString() };
}

/** A document owned by `owner` with `collaborators`, made through the SDK's HTTP routes. */
export async function createDocument(stack: LocalStack, owner: string, collaborators: string[], title = 'doc'): Promise<string> {
  const ts = new Townsquare({ relayUrls: stack.relayUrls, apiUrl: stack.apiUrl, getToken: () => stack.issuer.mint(owner), WebSocket: NodeWebSocket, browserEvents: false });
  try {
    const doc = await ts.documents.create(title);
    for (const c of collaborators) await ts.documents.addCollaborator(doc.docId, c);
    return doc.docId;
  } finally {
    ts.close();
  }
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
