/**
 * After the broker connection was lost and came back, pub/sub messages of the
 * gap are gone. Every local subscription is told at once to backfill from
 * history with a `resync` frame, so a quiet channel does not wait for its next
 * message to reveal the gap; then every subscription's access is checked again
 * (a `revoke` may have been among the lost messages). The order matters for
 * speed, not safety: a client whose access was revoked gets 403 from history
 * and `unsubscribed` from the check.
 */
import type { RecheckResult } from './access-recheck.js';
import type { Hub } from './hub.js';

export async function resyncAfterBrokerGap(
  hub: Hub,
  recheck: { runFresh(): Promise<RecheckResult> },
): Promise<{ notified: number; checked: number; revoked: number }> {
  let notified = 0;
  for (const [channel, connection] of hub.subscriptions()) {
    if (connection.send({ type: 'resync', channel })) notified++;
  }
  // The periodic checker's own pass: never two passes reading everything at once.
  const { checked, revoked } = await recheck.runFresh();
  return { notified, checked, revoked };
}
