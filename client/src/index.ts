/**
 * @townsquare/client — the Townsquare SDK for browsers, React Native and Node.
 * See docs/client.md.
 */
export { Townsquare, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SIGNAL_INTERVAL_MS } from './townsquare.js';
export { Subscription, REORDER_WINDOW_MS, REORDER_JITTER_MS, RESYNC_SPREAD_MS, MAX_SIGNAL_BYTES } from './subscription.js';
export { TownsquareError } from './errors.js';
export { DEFAULT_MIN_DELAY_MS, DEFAULT_MAX_DELAY_MS, MAX_RETRY_HINT_MS } from './backoff.js';
export { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS } from './heartbeat.js';
export { DEFAULT_MAX_QUEUED_SENDS, DEFAULT_SEND_MAX_ATTEMPTS, DEFAULT_SEND_DEADLINE_MS } from './send-queue.js';
export { SIGNAL_RATE_PER_S, SIGNAL_BURST } from './signal-gate.js';
export type { AppStateLike } from './environment.js';
export type * from './types.js';
export type * from './document-types.js';
