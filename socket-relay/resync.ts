/**
 * After the broker connection was lost and came back, pub/sub messages of the
 * gap are gone. Every local subscription is checked again (a `revoke` may
 * have been among the lost messages) and told to backfill from history with a
 * `resync` frame, so a quiet channel does not wait for its next message to
 * reveal the gap.
 */
import { ErrorCode } from '../protocol/index.js';
import type { CommandContext } from './commands.js';

/** Access checks in flight at once: a relay may hold tens of thousands of subscriptions. */
const CONCURRENCY = 32;

export async function resyncAfterBrokerGap(ctx: CommandContext): Promise<{ checked: number; revoked: number }> {
  const work = [...ctx.hub.subscriptions()];
  let revoked = 0;
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const [channel, connection] = work[next++]!;
      if (connection.closed || !connection.subscriptions.has(channel)) continue;
      let allowed = true;
      try {
        allowed = (await ctx.access.check(connection.userId, channel)).allowed;
      } catch (err) {
        ctx.logger.warn({ err, channel }, 'access re-check failed; keeping the subscription');
      }
      if (!allowed) {
        revoked++;
        ctx.hub.evict(connection, channel);
        continue;
      }
      connection.send({ type: 'resync', channel });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (revoked > 0) ctx.metrics?.clientErrors.inc({ code: ErrorCode.Forbidden }, revoked);
  return { checked: work.length, revoked };
}
