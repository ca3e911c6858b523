/**
 * Message retention in the synthesized template: off by default (no
 * MESSAGE_RETENTION_DAYS anywhere), `-c messageRetentionDays=N` reaches exactly
 * the functions that write the messages table, the table's TTL is on
 * `expiresAt` either way, and a value that is not a positive whole number of
 * days stops synthesis. Synthesized without bundling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { GAP_HEAL_AFTER_MS, WRITE_BUDGET_MS } from '../../functions/domain/channel-log.js';
import { FUNCTION_TIMEOUT_MS } from '../../functions/lib/http.js';
import { routes } from '../../functions/routes.js';
import { buildApp } from '../../infra/lib/app.js';
import { ConfigError, readConfig } from '../../infra/lib/config.js';
import type { TownsquareStack } from '../../infra/lib/townsquare-stack.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 });

const outdirs: string[] = [];
function synth(context: Record<string, unknown>): { stack: TownsquareStack; template: Template } {
  const outdir = mkdtempSync(join(tmpdir(), 'townsquare-retention-'));
  outdirs.push(outdir);
  const { stack } = buildApp({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, nag: false, region: 'eu-west-1', outdir });
  return { stack, template: Template.fromStack(stack) };
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** MESSAGE_RETENTION_DAYS of each route's function ('' when unset). */
function retentionByRoute(s: { stack: TownsquareStack; template: Template }): Record<string, string> {
  const functions = s.template.findResources('AWS::Lambda::Function') as Record<string, { Properties: { Environment?: { Variables?: Record<string, unknown> } } }>;
  return Object.fromEntries(
    routes.map((r) => {
      const id = s.stack.getLogicalId(s.stack.api.functions.get(r.routeKey)!.node.defaultChild as never);
      return [r.routeKey, String(functions[id]!.Properties.Environment?.Variables?.MESSAGE_RETENTION_DAYS ?? '')];
    }),
  );
}

const messagesTtl = (s: { stack: TownsquareStack; template: Template }) => {
  const id = s.stack.getLogicalId(s.stack.data.tables.messages.node.defaultChild as never);
  return (s.template.toJSON().Resources[id].Properties as { TimeToLiveSpecification?: unknown }).TimeToLiveSpecification;
};

describe('message retention', () => {
  it('is off by default; the messages table has its TTL attribute anyway (items without expiresAt never expire)', () => {
    const s = synth({});
    expect(Object.values(retentionByRoute(s)).every((v) => v === '')).toBe(true);
    expect(messagesTtl(s)).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });

  it('the channel log\'s gap bound exceeds every route function\'s timeout (Lambda stops a writer before its seq can be tombstoned)', () => {
    const s = synth({});
    const functions = s.template.findResources('AWS::Lambda::Function') as Record<string, { Properties: { Timeout?: number } }>;
    const timeouts = routes.map((r) => functions[s.stack.getLogicalId(s.stack.api.functions.get(r.routeKey)!.node.defaultChild as never)]!.Properties.Timeout ?? 3);
    expect(timeouts).toHaveLength(routes.length);
    expect(Math.max(...timeouts) * 1000).toBeLessThan(GAP_HEAL_AFTER_MS);
    // The handlers' own deadline (where Lambda's context is missing) is the deployed timeout.
    expect(new Set(timeouts.map((t) => t * 1000))).toEqual(new Set([FUNCTION_TIMEOUT_MS]));
    // A send still has time to write and publish after the steps before the write.
    expect(FUNCTION_TIMEOUT_MS - WRITE_BUDGET_MS).toBeGreaterThanOrEqual(2_000);
  });

  it('reaches every function that writes the messages table, and only those', () => {
    const s = synth({ messageRetentionDays: '30' });
    const expected = Object.fromEntries(routes.map((r) => [r.routeKey, r.writes.includes('messages') ? '30' : '']));
    expect(retentionByRoute(s)).toEqual(expected);
    // Not vacuous: the send route and both history routes are among them.
    expect(Object.entries(expected).filter(([, v]) => v === '30').map(([k]) => k)).toEqual(
      expect.arrayContaining(['POST /rooms/{roomId}/messages', 'GET /rooms/{roomId}/messages', 'GET /channels/{channel}/messages']),
    );
  });

  it('accepts a positive whole number of days and refuses anything else, naming the key', () => {
    expect(readConfig({ messageRetentionDays: 7 }).messageRetentionDays).toBe(7);
    expect(readConfig({}).messageRetentionDays).toBeUndefined();
    for (const bad of ['0', '-3', '1.5', 'thirty', 40_000]) {
      expect(() => readConfig({ messageRetentionDays: bad })).toThrow(ConfigError);
      expect(() => readConfig({ messageRetentionDays: bad })).toThrow(/messageRetentionDays: expected an integer from 1 to 36500/);
    }
  });
});
