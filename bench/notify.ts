/**
 * One `POST /notifications` to 1,000 users against the local stack (the API
 * Gateway stand-in, the real handler, dynalite, Redis when installed): wall
 * time of the call as the client sees it, and the DynamoDB requests the
 * handler made, counted at the client (every command the SDK sends).
 *
 *   npx tsx bench/notify.ts [--recipients 1000] [--runs 5]
 *
 * Prints one line per run and a JSON summary. Runs after the first reuse the
 * warm stack (the first includes the handler's module load and connections).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseArgs } from 'node:util';
import { startLocalStack } from '../local/stack.js';

const { values } = parseArgs({ options: { recipients: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } } });
const recipients = Number(values.recipients);
const runs = Number(values.runs);

// Count every command the SDK sends, by name (BatchWriteItem counts once however many items it carries).
const requests = new Map<string, number>();
const send = DynamoDBClient.prototype.send;
DynamoDBClient.prototype.send = function (this: DynamoDBClient, command: { constructor: { name: string } }, ...rest: unknown[]) {
  const name = command.constructor.name.replace(/Command$/, '');
  requests.set(name, (requests.get(name) ?? 0) + 1);
  return (send as (...args: unknown[]) => Promise<unknown>).call(this, command, ...rest);
} as typeof send;

process.env.LOG_LEVEL ??= 'silent';
const stack = await startLocalStack({ relays: 0, buildRelay: false, keyFile: '.local/bench-keys.json' });
const token = await stack.issuer.mint('bench-backend', { scopes: ['notify'] });
const results: Array<{ ms: number; requests: number; byCommand: Record<string, number>; status: number }> = [];
try {
  for (let run = 0; run < runs; run++) {
    const userIds = Array.from({ length: recipients }, (_, i) => `bench-${run}-${i}`);
    requests.clear();
    const started = performance.now();
    const res = await fetch(`${stack.apiUrl}/notifications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userIds, type: 'bench', title: 'Benchmark', body: 'One call, many users', data: { run }, idempotencyKey: `bench-${run}-${Date.now()}` }),
    });
    const body = (await res.json()) as { stored: number; failed: number };
    const ms = performance.now() - started;
    if (body.stored !== recipients) throw new Error(`run ${run}: ${res.status} stored ${body.stored}/${recipients}: ${JSON.stringify(body).slice(0, 300)}`);
    const byCommand = Object.fromEntries([...requests].sort());
    const total = [...requests.values()].reduce((a, b) => a + b, 0);
    results.push({ ms: Math.round(ms), requests: total, byCommand, status: res.status });
    console.log(`run ${run + 1}: ${Math.round(ms)} ms, ${total} DynamoDB requests ${JSON.stringify(byCommand)}`);
  }
} finally {
  DynamoDBClient.prototype.send = send;
  await stack.stop();
}
const warm = results.slice(1).map((r) => r.ms).sort((a, b) => a - b);
console.log(JSON.stringify({ recipients, mode: stack.mode, firstMs: results[0]?.ms, warmMedianMs: warm[Math.floor(warm.length / 2)], requests: results.at(-1)?.requests, byCommand: results.at(-1)?.byCommand }));
