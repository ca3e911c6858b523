/**
 * One CloudWatch embedded-metric-format line a minute on stdout: the live
 * connection count (what the service scales on; the load balancer only counts
 * upgrades, not open sockets) and Redis reconnects (alarmed on). CloudWatch
 * Logs turns the line into metrics; nothing is called synchronously.
 */
export interface EmfOptions {
  namespace: string;
  service: string;
  intervalMs?: number;
  connections: () => number;
  /** Reconnects since the previous line. */
  takeRedisReconnects: () => number;
  write?: (line: string) => void;
}

export function emfLine(options: Pick<EmfOptions, 'namespace' | 'service'>, values: { connections: number; redisReconnects: number }, now = Date.now()): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: options.namespace,
          Dimensions: [['Service']],
          Metrics: [
            { Name: 'Connections', Unit: 'Count' },
            { Name: 'RedisReconnects', Unit: 'Count' },
          ],
        },
      ],
    },
    Service: options.service,
    Connections: values.connections,
    RedisReconnects: values.redisReconnects,
  });
}

/** Starts the periodic line; returns a stop function. */
export function startEmfMetrics(options: EmfOptions): () => void {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const timer = setInterval(() => {
    write(emfLine(options, { connections: options.connections(), redisReconnects: options.takeRedisReconnects() }));
  }, options.intervalMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
