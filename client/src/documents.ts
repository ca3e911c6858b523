/**
 * @townsquare/client/documents — collaborative documents on Yjs: a `Y.Doc`
 * kept in sync with a Townsquare document, and awareness (cursors, names).
 * A separate entry so that apps without documents load no Yjs; `yjs` and
 * `y-protocols` are peer dependencies. See docs/client.md, "Documents".
 *
 * ```ts
 * import { openDocument } from '@townsquare/client/documents';
 * const handle = openDocument(ts, 'd_abc');
 * await handle.whenLive();
 * handle.doc.getText('text').insert(0, 'hello');   // posted within a second, merged with whatever follows
 * ```
 */
import { ID_PATTERN } from '../../protocol/channels.js';
import { DocumentHandle, type OpenDocumentOptions } from './document.js';
import type { Townsquare } from './townsquare.js';

export { DocumentHandle, DOCUMENT_UPDATE_EVENT, MAX_STATE_VECTOR_BYTES, NOT_SAVED } from './document.js';
export type { DocumentErrorEvent, DocumentEvents, DocumentState, OpenDocumentOptions } from './document.js';
export { DEFAULT_DEBOUNCE_MS, DEFAULT_MAX_WAIT_MS, MAX_UPDATE_BYTES } from './update-batcher.js';
export { ASK_WINDOW_MS, MAX_AWARENESS_CLIENTS_PER_USER, MAX_REMOTE_AWARENESS_CLIENTS } from './awareness-sync.js';
export { AWARENESS_COALESCE_MS, AWARENESS_EVENT, AWARENESS_TIMEOUT_MS } from '../../protocol/awareness.js';
export { fromBase64, toBase64 } from './base64.js';

/**
 * Opens document `docId`: loads its state over HTTP, follows its live updates
 * and posts local changes. Close it with `handle.close()`.
 *
 * @example
 * const handle = openDocument(ts, docId, { debounceMs: 200 });
 * handle.on('state', ({ state }) => badge(state));            // loading / live / offline / failed / closed
 * new EditorBinding(handle.doc.getText('text'), handle.awareness);
 */
export function openDocument(ts: Townsquare, docId: string, options?: OpenDocumentOptions): DocumentHandle {
  if (typeof docId !== 'string' || !ID_PATTERN.test(docId)) throw new TypeError('docId must be 1-64 of A-Z a-z 0-9 _ -');
  return new DocumentHandle(ts, docId, options);
}
