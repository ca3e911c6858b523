/**
 * Racing writers on one room, for channel-log-race.test.ts and for measuring
 * any checkout of the code (so the old seq allocation can be measured too):
 *
 *   node --import tsx test/integration/channel-log-race.harness.ts measure <new|old> <root> [processes] [writers] [messages]
 *
 * `old` is the v1 code (conditional put at lastSeq + 1, `DynamoMessageStore`),
 * `new` the channel log (`DynamoChannelStore`); `root` is the checkout to load
 * them from (e.g. `git archive HEAD | tar -x -C /tmp/old` with node_modules
 * linked in). The parent starts dynalite and a room; each child process runs
 * `writers` senders, each with its own DynamoDB client, store and module
 * instance (no in-process queue is shared), all released at once. Every
 * client counts the ConditionalCheckFailedExceptions it gets back.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export type Impl = 'new' | 'old';

export interface RaceOptions {
  impl: Impl;
  /** Checkout root to load the code from. @default this checkout */
  root?: string;
  processes: number;
  writersPerProcess: number;
  messagesPerWriter: number;
}

export interface RaceResult {
  writers: number;
  /** Sends that returned a stored message. */
  sent: number;
  /** Sends that failed (their error messages). */
  errors: string[];
  /** Every seq read back from the log, ascending (gap tombstones excluded; see `gaps`). */
  seqs: number[];
  /** Gap tombstones in the log (seqs a writer reserved and never wrote). */
  gaps: number;
  /** Whether the log (messages and tombstones) holds exactly seqs 1..N: no seq missing, none twice. */
  gapFree: boolean;
  /** Ids read back from the log, and ids the senders were given. */
  storedIds: string[];
  sentIds: string[];
  failedConditionalWrites: number;
  failedPerStoredMessage: number;
}

interface WriterConfig {
  impl: Impl;
  root: string;
  endpoint: string;
  tables: Record<string, string>;
  roomId: string;
  process: number;
  writers: number;
  messages: number;
}

interface WriterReport {
  ids: string[];
  errors: string[];
  failedConditionalWrites: number;
}

const here = fileURLToPath(import.meta.url);
const thisRoot = resolve(here, '../../..');
const load = <T>(root: string, path: string, instance?: string): Promise<T> =>
  import(pathToFileURL(resolve(root, path)).href + (instance ? `?instance=${instance}` : '')) as Promise<T>;

/** The DynamoDB client factory of a checkout: in shared/ now, in functions/adapters/ before the module split. */
const loadDynamoClient = (root: string) =>
  load<typeof import('../../shared/dynamo-client.js')>(
    root,
    existsSync(resolve(root, 'shared/dynamo-client.ts')) ? 'shared/dynamo-client.ts' : 'functions/adapters/dynamo-client.ts',
  );

/** Counts condition failures as the caller sees them (after the SDK's own retries). */
function countConditionFailures(client: DynamoDBClient, onFailure: () => void): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        if ((err as Error)?.name === 'ConditionalCheckFailedException') onFailure();
        throw err;
      }
    },
    { step: 'initialize', name: 'countConditionFailures' },
  );
}

export async function runRace(options: RaceOptions): Promise<RaceResult> {
  const root = options.root ?? thisRoot;
  const { startDynamo } = await load<typeof import('../../local/dynamo.js')>(root, 'local/dynamo.ts');
  const { createDynamoClient } = await loadDynamoClient(root);
  const stores = await load<Record<string, new (...args: unknown[]) => unknown>>(root, 'functions/adapters/dynamo-stores.ts');
  const rooms = await load<typeof import('../../functions/domain/rooms.js')>(root, 'functions/domain/rooms.ts');

  const dynamo = await startDynamo({ prefix: `race-${options.impl}` });
  const children: ChildProcess[] = [];
  const db = createDynamoClient({ endpoint: dynamo.endpoint });
  try {
    const roomStore = new stores.DynamoRoomStore!(db, dynamo.tables) as import('../../functions/domain/ports.js').RoomStore;
    const writers = options.processes * options.writersPerProcess;
    const roomDeps = { rooms: roomStore, publisher: { publish: async () => {} }, maxRoomsPerUser: 10 };
    const room = await rooms.createRoom(roomDeps, 'w0-0', 'race');
    for (let p = 0; p < options.processes; p++) {
      for (let w = 0; w < options.writersPerProcess; w++) {
        if (p || w) await rooms.addMember(roomDeps, 'w0-0', room.roomId, `w${p}-${w}`);
      }
    }

    for (let p = 0; p < options.processes; p++) {
      const child = fork(here, ['writer'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const config: WriterConfig = {
        impl: options.impl,
        root,
        endpoint: dynamo.endpoint,
        tables: dynamo.tables,
        roomId: room.roomId,
        process: p,
        writers: options.writersPerProcess,
        messages: options.messagesPerWriter,
      };
      child.send(config);
    }
    // Every writer is set up (clients made, modules loaded) before any starts: they race from the same moment.
    await Promise.all(children.map((c) => once(c, 'message')));
    const reports = children.map((c) => once(c, 'message').then(([report]) => report as WriterReport));
    for (const c of children) c.send('go');
    const done = await Promise.all(reports);

    const log = await readLog(options.impl, root, db, dynamo.tables, room.roomId, writers * options.messagesPerWriter + 10);
    const failed = done.reduce((n, r) => n + r.failedConditionalWrites, 0);
    return {
      writers,
      sent: done.reduce((n, r) => n + r.ids.length, 0),
      errors: done.flatMap((r) => r.errors),
      seqs: log.seqs,
      gaps: log.gaps,
      gapFree: log.allSeqs.every((s, i) => s === i + 1),
      storedIds: log.ids,
      sentIds: done.flatMap((r) => r.ids),
      failedConditionalWrites: failed,
      failedPerStoredMessage: failed / Math.max(1, log.seqs.length),
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
    db.destroy();
    await dynamo.stop();
  }
}

async function readLog(impl: Impl, root: string, db: DynamoDBClient, tables: Record<string, string>, roomId: string, limit: number) {
  const stores = await load<Record<string, new (...args: unknown[]) => unknown>>(root, 'functions/adapters/dynamo-stores.ts');
  if (impl === 'old') {
    const store = new stores.DynamoMessageStore!(db, tables) as { listMessages(r: string, a: number, l: number): Promise<Array<{ seq: number; id: string }>> };
    const messages = await store.listMessages(roomId, 0, limit);
    const seqs = messages.map((m) => m.seq);
    return { seqs, allSeqs: seqs, ids: messages.map((m) => m.id), gaps: 0 };
  }
  const store = new stores.DynamoChannelStore!(db, tables) as import('../../functions/domain/ports.js').ChannelStore;
  const entries = await store.listEntries(`room:${roomId}`, 0, limit);
  const messages = entries.filter((e) => e.event !== 'gap');
  return { seqs: messages.map((e) => e.seq), allSeqs: entries.map((e) => e.seq), ids: messages.map((e) => e.id), gaps: entries.length - messages.length };
}

/** A child process: `writers` senders, each with its own client, store and module instance. */
async function writerProcess(): Promise<void> {
  const [config] = (await once(process, 'message')) as [WriterConfig];
  const { createDynamoClient } = await loadDynamoClient(config.root);
  const stores = await load<Record<string, new (...args: unknown[]) => unknown>>(config.root, 'functions/adapters/dynamo-stores.ts');
  let failedConditionalWrites = 0;
  const senders = await Promise.all(
    Array.from({ length: config.writers }, async (_, w) => {
      const userId = `w${config.process}-${w}`;
      const db = createDynamoClient({ endpoint: config.endpoint });
      countConditionFailures(db, () => failedConditionalWrites++);
      const roomStore = new stores.DynamoRoomStore!(db, config.tables);
      // A module instance per writer: v1's in-process queue (KeyedQueue) must not make them take turns.
      const { sendMessage } = await load<{ sendMessage(deps: unknown, input: unknown): Promise<{ message: { id: string } }> }>(
        config.root,
        'functions/domain/messages.ts',
        userId,
      );
      const publisher = { publish: async () => {} };
      const deps =
        config.impl === 'old'
          ? { rooms: roomStore, messages: new stores.DynamoMessageStore!(db, config.tables), publisher }
          : { rooms: roomStore, channels: new stores.DynamoChannelStore!(db, config.tables), publisher };
      return { userId, db, send: (input: object) => sendMessage(deps, { roomId: config.roomId, userId, ...input }) };
    }),
  );
  process.send!('ready');
  await once(process, 'message'); // 'go'
  const ids: string[] = [];
  const errors: string[] = [];
  await Promise.all(
    senders.map(async ({ userId, send }) => {
      for (let i = 0; i < config.messages; i++) {
        // Half the sends carry a clientMessageId, so the idempotent path races too.
        const input = i % 2 === 0 ? { text: `${userId} #${i}`, clientMessageId: `c-${userId}-${i}` } : { text: `${userId} #${i}` };
        try {
          ids.push((await send(input)).message.id);
        } catch (err) {
          errors.push(String((err as Error).message ?? err));
        }
      }
    }),
  );
  for (const s of senders) s.db.destroy();
  process.send!({ ids, errors, failedConditionalWrites } satisfies WriterReport);
  process.disconnect();
}

if (process.argv[2] === 'writer') {
  await writerProcess();
} else if (process.argv[2] === 'measure') {
  const [impl, root, processes, writers, messages] = process.argv.slice(3);
  const result = await runRace({
    impl: (impl ?? 'new') as Impl,
    root: root ? resolve(root) : thisRoot,
    processes: Number(processes ?? 4),
    writersPerProcess: Number(writers ?? 15),
    messagesPerWriter: Number(messages ?? 5),
  });
  const { seqs, storedIds, sentIds, ...summary } = result;
  // gapFree counts tombstones as filled seqs (that is the gap rule's job); `gaps` says how many there are.
  console.log(JSON.stringify({ ...summary, stored: seqs.length, maxSeq: seqs.at(-1), tombstones: result.gaps, uniqueIds: new Set(storedIds).size, errors: summary.errors.slice(0, 5) }));
}
