/**
 * Publishing happens after the write succeeded, so a Redis failure must not
 * turn a stored message into an error response (the client would retry and
 * get the same message anyway). Failures are logged; subscribers recover the
 * message from history when they notice the seq gap.
 */
import type { Publisher } from '../../broker/types.js';

export interface ErrorLogger {
  error(message: string, extra: Record<string, unknown>): void;
}

export class LoggedPublisher implements Publisher {
  constructor(
    private readonly inner: Publisher,
    private readonly logger: ErrorLogger,
  ) {}

  async publish(channel: string, payload: string): Promise<void> {
    try {
      await this.inner.publish(channel, payload);
    } catch (error) {
      this.logger.error('publish failed after the write was stored; subscribers will backfill', { error, channel });
    }
  }
}
