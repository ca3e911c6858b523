/**
 * Fail fast while a Redis connection is known to be down. A function
 * publishes after the write is stored, and answers `published: false` when
 * that fails: waiting on a Redis that is not there costs every send the whole
 * publish timeout (in Lambda, that much billed time and concurrency, so more
 * containers, each connecting) and tells nobody anything new. Once an attempt
 * has shown the connection to be down, the next ones are refused at once
 * until it is back:
 *
 * - an ioredis client (`ioredisGate`) is down from a failed connection
 *   attempt or a command timeout (a black-holed server: nothing closes,
 *   nothing answers) until it is `ready` again. ioredis reconnects on its own, paced by its
 *   `retryStrategy`, so recovery needs no attempt from us, and a timeout
 *   makes it reconnect (a stuck connection never recovers by itself);
 * - a connectionless client (`probingGate`, Upstash REST) is down after a
 *   failed attempt; every `probeAfterMs` one attempt goes through to see.
 */
import type { Cluster, Redis } from 'ioredis';

export class PublisherUnavailableError extends Error {
  override readonly name = 'PublisherUnavailableError';
  readonly code = 'publisher_unavailable';
  constructor(what: string, downForMs: number) {
    super(`${what} is unavailable (down for ${downForMs} ms); not waiting for it`);
  }
}

export interface FailFastGate {
  /** Whether attempts are refused now. */
  readonly down: boolean;
  /** Runs `attempt`, or rejects with PublisherUnavailableError at once while down; learns from what happens. */
  run<T>(attempt: () => Promise<T>): Promise<T>;
}

/** ioredis's error for a command that outlived `commandTimeout`. */
export const isCommandTimeout = (err: unknown): boolean => err instanceof Error && err.message === 'Command timed out';

/**
 * A gate on an ioredis client (standalone or cluster) that has a
 * `commandTimeout`. Up until the client first fails (a new client's first
 * commands wait for its connection, within `connectTimeout`).
 */
export function ioredisGate(client: Redis | Cluster, what: string): FailFastGate {
  let downSince: number | null = null;
  let ready = false;
  const markDown = () => (downSince ??= Date.now());
  client.on('ready', () => {
    ready = true;
    downSince = null;
  });
  // A ready connection that drops is not yet an outage (an idle socket closed while a
  // Lambda container was frozen reconnects in ms): its reconnect failing is.
  client.on('close', () => {
    if (ready) ready = false;
    else markDown();
  });
  return {
    get down() {
      return downSince !== null;
    },
    async run(attempt) {
      if (downSince !== null) throw new PublisherUnavailableError(what, Date.now() - downSince);
      try {
        return await attempt();
      } catch (err) {
        // The connection looks open but nothing answers: reconnect (which a stuck
        // connection never does by itself) and refuse attempts until it is ready.
        if (isCommandTimeout(err) && downSince === null) {
          markDown();
          client.disconnect(true);
        }
        throw err;
      }
    },
  };
}

export interface ProbingGateOptions {
  /** While down, one attempt goes through this often (ms) to see whether it is back. */
  probeAfterMs: number;
  /** @default Date.now */
  now?: () => number;
}

/** A gate for a client without a connection of its own (each attempt a request): down after any failure. */
export function probingGate(what: string, options: ProbingGateOptions): FailFastGate {
  const now = options.now ?? Date.now;
  let downSince: number | null = null;
  let lastProbe = 0;
  let probing = false;
  return {
    get down() {
      return downSince !== null;
    },
    async run(attempt) {
      const probe = downSince !== null;
      if (probe) {
        if (probing || now() - lastProbe < options.probeAfterMs) throw new PublisherUnavailableError(what, now() - downSince!);
        probing = true;
        lastProbe = now();
      }
      try {
        const result = await attempt();
        downSince = null;
        return result;
      } catch (err) {
        if (downSince === null) lastProbe = now();
        downSince ??= now();
        throw err;
      } finally {
        if (probe) probing = false;
      }
    },
  };
}
