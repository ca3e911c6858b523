/**
 * A notification call's idempotency key: its claim in the idempotency table
 * (the channel log's, ChannelStore.claim, kept 24 h), and the notification ids
 * it makes deterministic.
 *
 * The claim keeps the first attempt's time (the ids' time part), a fingerprint
 * of the content, and who is writing. One attempt at a time writes: a lease of
 * `claimLeaseMs` (above the function timeout) from its `claimedAt`, released
 * when it finishes. A later attempt may look at what is stored only once the
 * lease has run out or been released, since before that the writer may be
 * between its inbox items and its entries; while it runs, the answer is 409.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CLAIM_LEASE_MS, type ChannelLogDeps } from './channel-log.js';
import { conflict } from './errors.js';
import { newMessageId } from './ids.js';
import type { NotificationContent } from './notification-data.js';

export interface KeyedInput extends NotificationContent {
  /** Whose keys these are: a key is scoped to it (e.g. `api:{client}`, `mention:{roomId}`). */
  namespace: string;
  idempotencyKey?: string;
  /** A fixed time for the ids (a mention: its message's); otherwise the first attempt's. */
  createdAt?: number;
}

export interface KeyClaim {
  /** The first attempt's time: the ids' time part. */
  createdAt: number;
  /** True when this call created the claim: nothing can be stored under its ids yet. */
  fresh: boolean;
  /** Throws 409 while an earlier attempt may still be writing (its lease runs and it was not released). */
  requireIdle(): void;
  /** Takes the claim over from an attempt that finished or died; 409 if another attempt just did. */
  hold(): Promise<void>;
  /** Lets the next attempt take the claim at once (it is held until the lease runs out otherwise). */
  release(): Promise<void>;
}

export async function claimKey(deps: ChannelLogDeps, input: KeyedInput & { idempotencyKey: string }): Promise<KeyClaim> {
  const now = deps.now ?? Date.now;
  const channel = `notify:${input.namespace}`;
  const key = input.idempotencyKey;
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([input.type, input.title, input.body, input.data ?? null]))
    .digest('base64url');
  // The attempt's own random part: two first attempts in the same ms must not both take the claim for their own.
  const mine = { entryId: `at-${input.createdAt ?? now()}-${newMessageId()}`, fingerprint, claimedAt: now() };
  const existing = await deps.channels.claim(channel, key, mine);
  if (existing && existing.fingerprint !== fingerprint) {
    throw conflict('This idempotencyKey was already used for a different notification (type, title, body or data); use a new idempotencyKey');
  }
  const inProgress = () => conflict('A call with this idempotencyKey is still storing; retry shortly (nobody is notified twice)');
  let heldAt: number | null = existing ? null : mine.claimedAt;
  const requireIdle = () => {
    // A released claim has claimedAt 0: long run out.
    if (existing && now() - existing.claimedAt < (deps.claimLeaseMs ?? CLAIM_LEASE_MS)) throw inProgress();
  };
  return {
    createdAt: Number((existing ?? mine).entryId.split('-')[1]),
    fresh: !existing,
    requireIdle,
    async hold() {
      requireIdle();
      const takenAt = Math.max(now(), existing!.claimedAt + 1);
      // Conditional on the claim read above: nobody wrote under it since (else 409).
      if (!(await deps.channels.takeOverClaim(channel, key, existing!.claimedAt, takenAt, newMessageId()))) throw inProgress();
      heldAt = takenAt;
    },
    async release() {
      // claimedAt 0: a lease long run out. If this fails, the lease runs out by itself.
      if (heldAt !== null) await deps.channels.takeOverClaim(channel, key, heldAt, 0, newMessageId()).catch(() => false);
    },
  };
}

/**
 * `{time}-{16 chars}`: the time (epoch ms, base 36, 9 digits) orders an inbox
 * newest first; the rest is random, or with a key derived from (namespace, key, user).
 */
export function notificationId(input: Pick<KeyedInput, 'namespace' | 'idempotencyKey'>, createdAt: number, userId: string): string {
  const time = createdAt.toString(36).padStart(9, '0');
  const rest =
    input.idempotencyKey === undefined
      ? randomBytes(12).toString('base64url')
      : createHash('sha256').update(`${input.namespace}\n${input.idempotencyKey}\n${userId}`).digest('base64url').slice(0, 16);
  return `${time}-${rest}`;
}
