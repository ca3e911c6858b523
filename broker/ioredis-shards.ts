/**
 * The one place that reads ioredis's private sharded-subscriber state (ioredis
 * is pinned to an exact version in package.json for this reason). No public
 * API says whether every shard connection a Cluster subscribes through is up:
 * the cluster's own status stays `ready` while one shard's subscriber is down.
 *
 * The shape is checked when the probe is made and again on every read; if it
 * is not what ioredis 5.11 has, the probe says so once (`onShapeChanged`) and
 * falls back to public events: unhealthy from a shard subscriber's `-node`
 * until the group's next `subscribersReady`, which is coarser (a shard that
 * failed to reconnect also ends in `subscribersReady`).
 */
import type { Cluster } from 'ioredis';

/** ioredis 5.11: `cluster.shardedSubscribers` (a ClusterSubscriberGroup) `.shardedSubscribers` (nodeKey → ShardedSubscriber). */
interface ShardEntry {
  subscriberStatus: string;
  getInstance(): { status: string } | null;
}

function shardMap(cluster: Cluster): Map<unknown, unknown> | null {
  const group = (cluster as unknown as { shardedSubscribers?: { shardedSubscribers?: unknown } }).shardedSubscribers;
  return group?.shardedSubscribers instanceof Map ? group.shardedSubscribers : null;
}

function isShardEntry(value: unknown): value is ShardEntry {
  const entry = value as Partial<ShardEntry> | null;
  return typeof entry?.subscriberStatus === 'string' && typeof entry.getInstance === 'function';
}

export interface ShardHealthProbe {
  /** Whether every started shard subscriber is connected (idle shards hold no subscriptions and do not count). */
  healthy(): boolean;
  /** Whether the private state is being read (false: the public-event fallback is in use). */
  readonly usingInternals: boolean;
}

/**
 * A health probe for `cluster`, created with `shardedSubscribers: true`.
 * `onShapeChanged` is called at most once, when the private state is not
 * where ioredis 5.11 keeps it.
 */
export function shardHealthProbe(cluster: Cluster, onShapeChanged: (problem: string) => void): ShardHealthProbe {
  // Public fallback, tracked from the start so it is ready if the shape check fails later.
  let shardLost = false;
  cluster.on('-node', (_redis: unknown, nodeKey?: string) => {
    if (nodeKey) shardLost = true; // only shard subscribers pass a node key
  });
  cluster.on('subscribersReady', () => {
    shardLost = false;
  });

  let usingInternals = true;
  const giveUp = (problem: string) => {
    if (!usingInternals) return;
    usingInternals = false;
    onShapeChanged(`${problem}: ioredis internals changed (expected those of ioredis 5.11); shard health now follows public events only. Check the ioredis version`);
  };
  if (!shardMap(cluster)) giveUp('Cluster has no shardedSubscribers.shardedSubscribers Map');

  return {
    get usingInternals() {
      return usingInternals;
    },
    healthy() {
      if (usingInternals) {
        const shards = shardMap(cluster);
        const entries = shards ? [...shards.values()] : null;
        if (!entries) giveUp('Cluster.shardedSubscribers.shardedSubscribers is no longer a Map');
        else if (!entries.every(isShardEntry)) giveUp('a sharded subscriber lacks subscriberStatus or getInstance()');
        else return entries.every((s) => s.subscriberStatus === 'idle' || s.getInstance()?.status === 'ready');
      }
      return !shardLost;
    },
  };
}
