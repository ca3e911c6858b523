/**
 * Awareness on documents (cursors, selections, names): ephemeral `signal`
 * frames on `document:{docId}` with event `awareness`, whose data carries one
 * y-protocols awareness update (base64). The client SDK sends them throttled;
 * relays coalesce them per document before fan-out (latest per sender wins),
 * because awareness traffic grows with the square of the collaborators.
 * docs/protocol.md, "Awareness on documents".
 */

/** The signal event of an awareness update. */
export const AWARENESS_EVENT = 'awareness';

/**
 * How long a relay gathers awareness signals of one document before it fans
 * them out: within one window only the latest signal of each sending
 * connection goes out. Also the SDK's least time between two awareness
 * signals of one document, so a well-behaved client loses nothing to it.
 */
export const AWARENESS_COALESCE_MS = 100;

/**
 * A remote client's awareness state is dropped when nothing was heard of it
 * for this long (y-protocols' `outdatedTimeout`); clients re-send their own
 * state every half of it.
 */
export const AWARENESS_TIMEOUT_MS = 30_000;

/**
 * Senders whose latest awareness signal one relay holds for one document
 * within a window; a window that would hold more is flushed at once, so
 * memory stays bounded whatever arrives.
 */
export const MAX_COALESCED_SENDERS = 1024;

/** The `data` of an awareness signal. */
export interface AwarenessSignalData {
  /** A y-protocols awareness update (`encodeAwarenessUpdate`), standard base64. */
  update: string;
}

/** Whether a signal is coalesced by relays: awareness on a document channel. */
export const isCoalescedSignal = (channel: string, event: string): boolean => event === AWARENESS_EVENT && channel.startsWith('document:');
