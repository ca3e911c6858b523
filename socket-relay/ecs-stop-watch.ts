/**
 * Notices that ECS is stopping this task before it sends SIGTERM. ECS first
 * deregisters the task from the load balancer and waits for its connections
 * to close (at most the deregistration delay); only then does it signal the
 * container. WebSockets do not close on their own, so a relay waiting for
 * SIGTERM would have its clients cut off by the load balancer (1006) instead
 * of told to reconnect (1012). The task metadata endpoint (v4) reports the
 * stop as `DesiredStatus: STOPPED` from the moment ECS decides it.
 */

export interface EcsStopWatchOptions {
  /** `ECS_CONTAINER_METADATA_URI_V4`, set by ECS in every container. */
  metadataUri: string;
  onStopping: () => void;
  /** @default 2000 */
  intervalMs?: number;
  onError?: (err: unknown) => void;
}

/** Polls the task's desired status; calls `onStopping` once. Returns a function that stops polling. */
export function watchEcsStop(options: EcsStopWatchOptions): () => void {
  let done = false;
  const poll = async () => {
    try {
      const res = await fetch(`${options.metadataUri}/task`, { signal: AbortSignal.timeout(1000) });
      const task = (await res.json()) as { DesiredStatus?: unknown };
      if (!done && task.DesiredStatus === 'STOPPED') {
        done = true;
        clearInterval(timer);
        options.onStopping();
      }
    } catch (err) {
      options.onError?.(err);
    }
  };
  const timer = setInterval(() => void poll(), options.intervalMs ?? 2000);
  timer.unref();
  return () => {
    done = true;
    clearInterval(timer);
  };
}
