/**
 * One CloudWatch embedded-metric-format line a minute on stdout: the live
 * connection count (what the service scales on; the load balancer only counts
 * upgrades, not open sockets), Redis outages (how many times the broker's
delivery side went down, however many retries each took) and whether Redis is
down right now (so a long outage alarms too, not only repeated ones), frames
 * delivered to sockets, and, one more line per channel kind, the envelopes this
 * relay received from Redis for its subscribers (durable messages and signals:
 * the traffic per channel kind as this relay sees it). CloudWatch Logs turns the
 * lines into metrics; nothing is called synchronously.
 */
export interface EmfOptions {
  namespace: string;
  service: string;
  intervalMs?: number;
  connections: () => number;
  /** Broker outages (lifecycle `down` events) since the previous line. */
  takeRedisOutages: () => number;
  /** Whether the broker's delivery side is down as the line is written. */
  redisDown: () => boolean;
  /** Frames written to sockets by fan-out since the previous line. */
  takeDeliveries?: () => number;
  /** Envelopes received from the broker since the previous line, by channel kind (`room`, `user`, …). */
  takeEnvelopesByChannelKind?: () => ReadonlyMap<string, number>;
  write?: (line: string) => void;
}

/** One line per channel kind: `Envelopes` under the Service and ChannelKind dimensions. */
export function emfChannelKindLine(options: Pick<EmfOptions, 'namespace' | 'service'>, channelKind: string, envelopes: number, now = Date.now()): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [{ Namespace: options.namespace, Dimensions: [['Service', 'ChannelKind']], Metrics: [{ Name: 'Envelopes', Unit: 'Count' }] }],
    },
    Service: options.service,
    ChannelKind: channelKind,
    Envelopes: envelopes,
  });
}

export function emfLine(
  options: Pick<EmfOptions, 'namespace' | 'service'>,
  values: { connections: number; redisOutages: number; redisDown: boolean; deliveries?: number },
  now = Date.now(),
): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: options.namespace,
          Dimensions: [['Service']],
          Metrics: [
            { Name: 'Connections', Unit: 'Count' },
            { Name: 'RedisOutages', Unit: 'Count' },
            { Name: 'RedisDown', Unit: 'Count' },
            { Name: 'Deliveries', Unit: 'Count' },
          ],
        },
      ],
    },
    Service: options.service,
    Connections: values.connections,
    RedisOutages: values.redisOutages,
    RedisDown: values.redisDown ? 1 : 0,
    Deliveries: values.deliveries ?? 0,
  });
}

/** Starts the periodic line; returns a stop function. */
export function startEmfMetrics(options: EmfOptions): () => void {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const timer = setInterval(() => {
    const now = Date.now();
    write(
      emfLine(
        options,
        { connections: options.connections(), redisOutages: options.takeRedisOutages(), redisDown: options.redisDown(), deliveries: options.takeDeliveries?.() ?? 0 },
        now,
      ),
    );
    for (const [kind, count] of options.takeEnvelopesByChannelKind?.() ?? []) write(emfChannelKindLine(options, kind, count, now));
  }, options.intervalMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
