/**
 * A collaborative document bound to a `Y.Doc`: the initial state from
 * `GET /documents/{docId}`, live updates from the `document:{docId}`
 * subscription (exactly once, in seq order, gaps filled from history like
 * chat), local changes batched into update posts (update-batcher.ts), and
 * awareness over signals (awareness-sync.ts).
 *
 * Yjs merges idempotently, so wherever the log cannot tell us what we missed
 * (a history gap, a reconnect, a subscription that started elsewhere), the
 * handle re-syncs with its state vector: the API answers only what this
 * client lacks, and the handle posts what the API lacks.
 *
 *   loading ──state applied, subscribed──▶ live ⇄ offline (connection lost; edits kept)
 *      └── no access (403/404, revoked), or local changes that cannot be saved ──▶ failed        close() ──▶ closed
 */
import * as Y from 'yjs';
import { Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import { AWARENESS_EVENT, AWARENESS_TIMEOUT_MS } from '../../protocol/awareness.js';
import { AwarenessSync } from './awareness-sync.js';
import { Backoff } from './backoff.js';
import { fromBase64, toBase64 } from './base64.js';
import { Emitter } from './emitter.js';
import { TownsquareError } from './errors.js';
import { lacksDeletions, lacksStructs, type DeleteSet } from './document-diff.js';
import type { DocumentStateResponse } from './document-types.js';
import { isRetryableSendError } from './send-queue.js';
import type { Subscription } from './subscription.js';
import type { Townsquare } from './townsquare.js';
import type { Message, StateChange } from './types.js';
import { DEFAULT_DEBOUNCE_MS, DEFAULT_MAX_WAIT_MS, MAX_UPDATE_BYTES, UpdateBatcher, type PostFailure } from './update-batcher.js';

/** The code of the error `flush()` and `whenLive()` reject with once local changes could not be saved. */
export const NOT_SAVED = 'not_saved';

/** The entry event of an update on `document:{docId}` (DOCUMENT_UPDATE_EVENT in protocol/documents.ts). */
export const DOCUMENT_UPDATE_EVENT = 'document.update';
/** Largest state vector the API takes in `?stateVector=` (MAX_STATE_VECTOR_BYTES); beyond it the handle reads the whole state. */
export const MAX_STATE_VECTOR_BYTES = 4096;
/** Own clientUpdateIds remembered to skip their live echo. */
const ECHO_MEMORY = 256;

export type DocumentState = 'loading' | 'live' | 'offline' | 'failed' | 'closed';

export interface DocumentErrorEvent {
  /**
   * `load` / `sync`: reading the state failed (retried); `save`: an update post failed (retried), or
   * local changes could not be saved (`context.fatal`: the handle fails); `update`: a live update did
   * not apply; `awareness`; `access`: no access any more.
   */
  kind: 'load' | 'sync' | 'save' | 'update' | 'awareness' | 'access';
  message: string;
  context?: Record<string, unknown>;
  error?: unknown;
}

export interface DocumentEvents {
  state: StateChange<DocumentState>;
  /** Every failure; nothing throws into the app. */
  error: DocumentErrorEvent;
  /** Local changes were stored by the API; `unsaved` of them are left. */
  saved: { unsaved: number };
  /** Who has the document open (users, not tabs), after every change. */
  presence: { members: string[] };
}

export interface OpenDocumentOptions {
  /** Bring your own doc (e.g. restored from IndexedDB); its content is merged both ways. @default a new Y.Doc */
  doc?: Y.Doc;
  /** Quiet time after the last local change before it is posted. @default 200 */
  debounceMs?: number;
  /** Longest a local change waits while changes keep coming. @default 1000 */
  maxWaitMs?: number;
  /** Awareness (cursors, names): pass your own, or `false` for none. @default a new Awareness on the doc */
  awareness?: Awareness | false;
  /** A remote awareness state not renewed for this long is dropped; the local one is re-sent every half of it. @default 30000 */
  awarenessTimeoutMs?: number;
}

export class DocumentHandle {
  readonly doc: Y.Doc;
  /** Cursors and names of everyone on the document (null with `awareness: false`). */
  readonly awareness: Awareness | null;
  state: DocumentState = 'loading';
  /** The title from the last state read. */
  title: string | undefined;

  readonly channel: string;
  private readonly events: Emitter<DocumentEvents>;
  private readonly batcher: UpdateBatcher;
  private readonly awarenessSync: AwarenessSync | null;
  private readonly ownsDoc: boolean;
  private readonly ownsAwareness: boolean;
  private subscription: Subscription | null = null;
  /** The subscription existed before this handle (its start position is not ours). */
  private sharedSubscription = false;
  private readonly cleanups: Array<() => void> = [];
  private readonly retry = new Backoff({ minDelayMs: 500, maxDelayMs: 10_000 });
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private syncing = false;
  private syncAgain = false;
  private readonly sentIds: string[] = [];
  private liveWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  /** Why the handle failed (what `flush` and `whenLive` reject with). */
  private failure: TownsquareError | null = null;

  /** @internal Use `openDocument(ts, docId)`. */
  constructor(
    private readonly ts: Townsquare,
    readonly docId: string,
    options: OpenDocumentOptions = {},
  ) {
    this.channel = `document:${docId}`;
    this.ownsDoc = !options.doc;
    this.doc = options.doc ?? new Y.Doc();
    this.events = new Emitter<DocumentEvents>((error, event) => {
      if (event !== 'error') this.report('update', `a listener of '${event}' threw: ${(error as Error)?.message ?? String(error)}`, { event }, error);
    });
    this.batcher = new UpdateBatcher({
      debounceMs: options.debounceMs ?? DEFAULT_DEBOUNCE_MS,
      maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      maxBytes: MAX_UPDATE_BYTES,
      post: async (update, clientUpdateId) => {
        this.rememberSent(clientUpdateId);
        await ts.documents.postUpdate(docId, toBase64(update), clientUpdateId);
      },
      onSaved: () => this.events.emit('saved', { unsaved: this.batcher.unsaved }),
      classify: classifyPostFailure,
      retryAfterMs: (error) => (error instanceof TownsquareError ? error.retryAfterMs : undefined),
      onError: (error, { clientUpdateId, outcome }) =>
        this.report('save', `posting an update ${outcome === 'retry' ? 'failed (retried)' : outcome === 'too_large' ? 'is too large' : 'was refused'}: ${(error as Error).message}`, { clientUpdateId, outcome }, error),
      onStop: (error, reason) =>
        reason === 'no_access'
          ? this.fail(`no access: ${(error as Error).message}`)
          : // Yjs applies this tab's changes only in order: none made from here on can be stored either.
            this.fail(`local changes could not be saved (${(error as Error).message}); this and every later edit stay unsaved: reopen the document`, 'save', NOT_SAVED),
    });

    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.batcher.add(update);
    };
    this.doc.on('update', onUpdate);
    this.cleanups.push(() => this.doc.off('update', onUpdate));

    this.ownsAwareness = options.awareness === undefined;
    this.awareness = options.awareness === false ? null : (options.awareness ?? new Awareness(this.doc));
    this.awarenessSync = this.awareness
      ? new AwarenessSync(
          this.awareness,
          {
            send: (data) => {
              try {
                this.subscription?.signal(AWARENESS_EVENT, data);
              } catch (error) {
                this.report('awareness', `the local awareness state was not sent: ${(error as Error).message}`, {}, error);
              }
            },
            onError: (message, context) => this.report('awareness', message, context),
          },
          options.awarenessTimeoutMs ?? AWARENESS_TIMEOUT_MS,
        )
      : null;

    // Back online: a post waiting out its retry goes now.
    this.cleanups.push(ts.on('state', ({ state }) => state === 'connected' && this.batcher.retryNow()));
    void this.load();
  }

  on<K extends keyof DocumentEvents>(event: K, listener: (payload: DocumentEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Local changes not yet stored by the API (kept through offline periods). */
  get unsaved(): number {
    return this.batcher.unsaved;
  }

  /** Users who have the document open now (from the channel's presence), sorted. */
  get members(): string[] {
    return this.subscription?.members ?? [];
  }

  /** Update posts acknowledged so far. */
  get posts(): number {
    return this.batcher.posts;
  }

  /** Resolves when the document is live (its state loaded and the subscription caught up); rejects if it fails or closes first. */
  whenLive(): Promise<void> {
    if (this.state === 'live') return Promise.resolve();
    if (this.state === 'failed' && this.failure) return Promise.reject(this.failure);
    if (this.state === 'failed' || this.state === 'closed') return Promise.reject(new TownsquareError('closed', `the document is ${this.state}`));
    return new Promise((resolve, reject) => this.liveWaiters.push({ resolve, reject }));
  }

  /** Posts pending local changes now; resolves once every change made so far is stored. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /**
   * Stops receiving at once and leaves the channel (unless something else
   * subscribed it). Unsaved changes are still posted for up to `timeoutMs`;
   * resolves when they are stored or given up.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.state === 'closed') return;
    this.awarenessSync?.destroy();
    if (this.ownsAwareness) this.awareness?.destroy();
    this.setState('closed');
    this.detachSubscription();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([this.batcher.flush(), new Promise<void>((resolve) => (timer = setTimeout(() => resolve(), timeoutMs)))]);
    } catch {
      // refused or no access: reported already
    } finally {
      clearTimeout(timer);
      this.batcher.stop(new TownsquareError('closed', 'the document was closed'));
      if (this.ownsDoc) this.doc.destroy();
    }
  }

  // ── Loading and re-syncing ──
  private async load(): Promise<void> {
    let response: DocumentStateResponse;
    try {
      response = await this.readState(this.doc.store.clients.size > 0);
    } catch (error) {
      if (this.isOver()) return;
      if (isAccessError(error)) return this.fail(`no access: ${(error as Error).message}`);
      this.report('load', `reading the document failed (retried): ${(error as Error).message}`, { docId: this.docId }, error);
      this.retryLater(() => this.load());
      return;
    }
    if (this.isOver()) return;
    this.retry.reset();
    this.applyState(response, true);
    this.attachSubscription(response.seq);
  }

  /** GET the state: with our state vector when we hold something (only what we lack comes back). */
  private readState(withStateVector: boolean): Promise<DocumentStateResponse> {
    const vector = withStateVector ? Y.encodeStateVector(this.doc) : null;
    const stateVector = vector && vector.length <= MAX_STATE_VECTOR_BYTES ? toBase64(vector, true) : undefined;
    return this.ts.documents.getState(this.docId, stateVector ? { stateVector } : {});
  }

  /**
   * Applies a state read, then posts what the API lacks: inserts beyond its state vector or
   * deletions outside its delete set (a doc of your own restored with offline edits, edits lost
   * in transit). Duplicates are harmless to Yjs. On the first read it is posted even with changes
   * pending (they do not hold what the doc had before the handle); on a later re-sync, pending
   * changes are what the API lacks and are on their way.
   */
  private applyState(response: DocumentStateResponse, first = false): void {
    this.title = response.title;
    const update = fromBase64(response.update);
    this.applyRemote(update, { source: 'state', seq: response.seq });
    const serverVector = fromBase64(response.stateVector);
    if ((first || this.batcher.unsaved === 0) && this.serverLacks(serverVector, update)) {
      this.batcher.add(Y.encodeStateAsUpdate(this.doc, serverVector));
    }
  }

  /** Whether the doc holds structs or deletions the API's state (its vector, and the delete set its answer carries) lacks. */
  private serverLacks(serverVector: Uint8Array, serverUpdate: Uint8Array): boolean {
    if (lacksStructs(Y.decodeStateVector(serverVector), Y.decodeStateVector(Y.encodeStateVector(this.doc)))) return true;
    let serverDeletes: DeleteSet;
    try {
      // A state answer carries the API's whole delete set (a diff drops structs the doc has, never deletions).
      serverDeletes = Y.decodeUpdate(serverUpdate).ds;
    } catch {
      return true; // unreadable (reported by applyRemote): post, a duplicate costs nothing
    }
    return lacksDeletions(serverDeletes, Y.createDeleteSetFromStructStore(this.doc.store));
  }

  /** Exchanges what either side lacks by state vector; one at a time, repeated when asked meanwhile. */
  private async resync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.syncAgain = false;
        const response = await this.readState(true);
        if (this.isOver()) return;
        this.applyState(response);
      } while (this.syncAgain && !this.isOver());
      this.retry.reset();
    } catch (error) {
      if (this.isOver()) return;
      if (isAccessError(error)) return this.fail(`no access: ${(error as Error).message}`);
      this.report('sync', `re-syncing by state vector failed (retried): ${(error as Error).message}`, { docId: this.docId }, error);
      this.retryLater(() => this.resync());
    } finally {
      this.syncing = false;
    }
  }

  private retryLater(task: () => Promise<void>): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.isOver()) void task();
    }, this.retry.next());
  }

  // ── Live ──
  private attachSubscription(seq: number): void {
    const existing = this.ts.subscription(this.channel);
    this.sharedSubscription = !!existing && existing.state !== 'failed' && existing.state !== 'unsubscribed';
    // A subscription made before this handle started elsewhere in the log: the state vector covers the difference.
    const startedElsewhere = !!existing;
    const sub = this.ts.subscribe(this.channel, { since: seq });
    this.subscription = sub;
    const off = [
      sub.on('message', (m) => this.onMessage(m)),
      // History no longer holds a range (or it arrived out of reach): the state vector fills it.
      sub.on('gap', () => void this.resync()),
      sub.on('subscribed', ({ resubscribed }) => {
        // After a reconnect the log fills what was missed; the state vector exchange also sends what the API lacks.
        if (resubscribed || startedElsewhere) void this.resync();
        this.awarenessSync?.subscribed();
        this.setState('live');
      }),
      sub.on('state', ({ state, reason }) => {
        if (state === 'failed') this.fail(reason ?? 'the subscription failed');
        else if (state === 'unsubscribed' && this.subscription === sub && !this.isOver()) this.reattach(sub, off);
        else if (state !== 'subscribed' && this.state === 'live') this.setState('offline', reason);
      }),
      sub.on('presence', (event) => this.events.emit('presence', event)),
      sub.on('signal', ({ event, userId, data }) => {
        if (event === AWARENESS_EVENT) this.awarenessSync?.receive(userId, data);
      }),
      sub.on('leave', ({ userId }) => this.awarenessSync?.userLeft(userId)),
    ];
    this.cleanups.push(() => off.forEach((stop) => stop()));
    if (sub.state === 'subscribed') {
      // Someone else's subscription, already live: it will not say `subscribed` again.
      void this.resync();
      this.awarenessSync?.subscribed();
      this.setState('live');
    } else if (this.state === 'loading') {
      this.setState(this.ts.state === 'connected' ? 'loading' : 'offline');
    }
  }

  /** Someone else ended the shared subscription (another component unsubscribed): subscribe again where it stopped. */
  private reattach(sub: Subscription, listeners: Array<() => void>): void {
    listeners.forEach((stop) => stop());
    this.subscription = null;
    if (this.state === 'live') this.setState('offline', 'the subscription was ended elsewhere');
    void Promise.resolve().then(() => {
      if (!this.isOver() && !this.subscription) this.attachSubscription(sub.lastSeq);
    });
  }

  private detachSubscription(): void {
    const sub = this.subscription;
    this.subscription = null;
    if (sub && !this.sharedSubscription) sub.unsubscribe();
  }

  private onMessage(message: Message): void {
    if (message.event !== DOCUMENT_UPDATE_EVENT) return;
    const data = message.data as { update?: unknown; userId?: unknown; clientUpdateId?: unknown } | null;
    if (!data || typeof data.update !== 'string') {
      this.report('update', `entry ${message.seq} of ${this.channel} has no update`, { seq: message.seq });
      return;
    }
    // Our own post coming back: the doc has it already.
    if (data.userId === this.ts.userId && typeof data.clientUpdateId === 'string' && this.sentIds.includes(data.clientUpdateId)) return;
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(data.update);
    } catch (error) {
      this.report('update', `entry ${message.seq} of ${this.channel} is not base64`, { seq: message.seq }, error);
      return;
    }
    this.applyRemote(bytes, { source: 'live', seq: message.seq });
  }

  private applyRemote(update: Uint8Array, context: { source: string; seq: number }): void {
    try {
      Y.applyUpdate(this.doc, update, this);
    } catch (error) {
      // The API checks every update; one that fails here is corrupt in transit. The state vector exchange repairs.
      this.report('update', `an update (${context.source}, seq ${context.seq}) did not apply: ${(error as Error).message}`, context, error);
      if (context.source === 'live') void this.resync();
    }
  }

  private rememberSent(clientUpdateId: string): void {
    this.sentIds.push(clientUpdateId);
    if (this.sentIds.length > ECHO_MEMORY) this.sentIds.shift();
  }

  // ── State ──
  private fail(reason: string, kind: 'access' | 'save' = 'access', code = 'forbidden'): void {
    if (this.isOver()) return;
    this.report(kind, `${this.channel}: ${reason}`, { docId: this.docId, reason, ...(kind === 'save' && { fatal: true, unsaved: this.batcher.unsaved }) });
    this.failure = new TownsquareError(code, reason);
    this.batcher.stop(this.failure);
    this.setState('failed', reason);
    this.detachSubscription();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Remote cursors are of a document we no longer see.
    if (this.awareness) removeAwarenessStates(this.awareness, [...this.awareness.states.keys()].filter((id) => id !== this.awareness!.clientID), this);
  }

  private isOver(): boolean {
    return this.state === 'failed' || this.state === 'closed';
  }

  private setState(state: DocumentState, reason?: string): void {
    const previous = this.state;
    if (previous === state) return;
    this.state = state;
    this.events.emit('state', { state, previous, ...(reason !== undefined && { reason }) });
    if (state === 'live') for (const w of this.liveWaiters.splice(0)) w.resolve();
    else if (state === 'failed' || state === 'closed') for (const w of this.liveWaiters.splice(0)) w.reject((state === 'failed' && this.failure) || new TownsquareError(state, reason ?? `the document is ${state}`));
  }

  private report(kind: DocumentErrorEvent['kind'], message: string, context?: Record<string, unknown>, error?: unknown): void {
    this.events.emit('error', { kind, message, ...(context && { context }), ...(error !== undefined && { error }) });
  }
}

/** 403/404: the caller is not (or no longer) a collaborator, or the document is gone. */
function isAccessError(error: unknown): boolean {
  return error instanceof TownsquareError && (error.status === 403 || error.status === 404);
}

function classifyPostFailure(error: unknown): PostFailure {
  if (isAccessError(error)) return 'stop';
  if (isRetryableSendError(error)) return 'retry';
  // 400 / 413: this batch can never be stored (the local doc keeps it); anything else may pass later.
  if (error instanceof TownsquareError && (error.status === 400 || error.status === 413)) return 'refused';
  return 'retry';
}
