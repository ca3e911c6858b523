/**
 * Publisher over Upstash's REST API (`@upstash/redis`): a Lambda function
 * outside any VPC publishes with one HTTPS request and holds no TCP
 * connection between invocations. Relays subscribe to the same database over
 * TLS with ioredis.
 */
import { Redis } from '@upstash/redis';
import { probingGate, type FailFastGate } from '../../broker/fail-fast.js';
import type { Publisher } from '../../broker/types.js';

export interface UpstashPublisherOptions {
  /** REST endpoint, e.g. `https://eu1-example-12345.upstash.io`. */
  url: string;
  /** REST token (a read-only token cannot publish). */
  token: string;
  /**
   * Retries on network errors (not on HTTP errors such as a bad token).
   * @default 2
   */
  retries?: number;
  /** Longest a publish may take, retries included (ms); then it fails. @default none */
  timeoutMs?: number;
  /**
   * After a failed publish, refuse publishes at once (PublisherUnavailableError)
   * but one every this many ms, which probes whether Upstash is back
   * (broker/fail-fast.ts). @default none (every publish tries)
   */
  probeAfterMs?: number;
}

export class UpstashPublisherError extends Error {
  override readonly name = 'UpstashPublisherError';
  readonly code = 'publish_failed';
  constructor(channel: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`Upstash PUBLISH to "${channel}" failed: ${detail}`, { cause });
  }
}

export class UpstashPublisher implements Publisher {
  private readonly redis: Redis;
  private readonly gate: FailFastGate | null;

  constructor(options: UpstashPublisherOptions) {
    const problems: string[] = [];
    if (!/^https?:\/\/\S+$/.test(options.url ?? '')) problems.push('url must be the http(s) REST endpoint (UPSTASH_REDIS_REST_URL)');
    if (!options.token) problems.push('token is required (UPSTASH_REDIS_REST_TOKEN)');
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) problems.push('timeoutMs must be a positive number of ms');
    if (options.probeAfterMs !== undefined && !(options.probeAfterMs >= 0)) problems.push('probeAfterMs must be 0 or more ms');
    if (problems.length) throw new TypeError(`UpstashPublisher: ${problems.join('; ')}`);
    const retries = options.retries ?? 2;
    const { timeoutMs } = options;
    this.redis = new Redis({
      url: options.url,
      token: options.token,
      // Payloads are already-serialized envelopes: send and return them untouched.
      automaticDeserialization: false,
      enableTelemetry: false,
      retry: { retries, backoff: (attempt) => Math.min(50 * 2 ** attempt, 500) },
      // A function: a fresh signal per publish, covering its retries.
      ...(timeoutMs !== undefined && { signal: () => AbortSignal.timeout(timeoutMs) }),
    });
    this.gate = options.probeAfterMs === undefined ? null : probingGate('Upstash', { probeAfterMs: options.probeAfterMs });
  }

  async publish(channel: string, payload: string): Promise<void> {
    await (this.gate ? this.gate.run(() => this.send(channel, payload)) : this.send(channel, payload));
  }

  private async send(channel: string, payload: string): Promise<void> {
    try {
      await this.redis.publish(channel, payload);
    } catch (err) {
      throw new UpstashPublisherError(channel, err);
    }
  }
}
