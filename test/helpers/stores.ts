/** The DynamoDB stores over a fresh dynalite, and the assertion that a promise fails with a domain error. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { expect } from 'vitest';
import { DynamoChannelStore, DynamoRoomStore } from '../../functions/adapters/dynamo-stores.js';
import { DomainError } from '../../functions/domain/errors.js';
import type { ChannelStore } from '../../functions/domain/ports.js';
import { startDynamo, type LocalDynamo } from '../../local/dynamo.js';
import { createDynamoClient } from '../../shared/dynamo-client.js';

export interface Stores {
  dynamo: LocalDynamo;
  db: DynamoDBClient;
  rooms: DynamoRoomStore;
  channels: DynamoChannelStore;
  stop(): Promise<void>;
}

/** dynalite with every table, a client on it and both stores; `prefix` keeps table names apart per file. */
export async function startStores(prefix: string): Promise<Stores> {
  const dynamo = await startDynamo({ prefix });
  const db = createDynamoClient({ endpoint: dynamo.endpoint });
  return {
    dynamo,
    db,
    rooms: new DynamoRoomStore(db, dynamo.tables),
    channels: new DynamoChannelStore(db, dynamo.tables),
    async stop() {
      db.destroy();
      await dynamo.stop();
    },
  };
}

/** Resolves with the DomainError `promise` rejects with; fails the test if it resolves or throws anything else. */
export async function domainError(promise: Promise<unknown>): Promise<DomainError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

/** `real` with some of its steps replaced, as a crash or a lost response would make them fail. */
export function faulty(real: ChannelStore, overrides: Partial<ChannelStore>): ChannelStore {
  return {
    reserveSeq: (c, n) => real.reserveSeq(c, n),
    head: (c) => real.head(c),
    putEntry: (e) => real.putEntry(e),
    getEntry: (c, s) => real.getEntry(c, s),
    getEntries: (keys) => real.getEntries(keys),
    listEntries: (c, a, l) => real.listEntries(c, a, l),
    claim: (c, k, cl) => real.claim(c, k, cl),
    recordClaimSeq: (c, k, at, s, r) => real.recordClaimSeq(c, k, at, s, r),
    takeOverClaim: (c, k, e, at, attempt) => real.takeOverClaim(c, k, e, at, attempt),
    ...overrides,
  };
}
