/**
 * After the broker connection was lost and came back, pub/sub messages of the
 * gap are gone. Every local subscription is checked again (a `revoke` may
 * have been among the lost messages; the same batched pass as the periodic
 * re-check) and the rest are told to backfill from history with a `resync`
 * frame, so a quiet channel does not wait for its next message to reveal the gap.
 */
import { recheckSubscriptions, type RecheckDeps } from './access-recheck.js';

export async function resyncAfterBrokerGap(deps: RecheckDeps): Promise<{ checked: number; revoked: number }> {
  const { checked, revoked, kept } = await recheckSubscriptions(deps);
  for (const [channel, connection] of kept) connection.send({ type: 'resync', channel });
  return { checked, revoked };
}
