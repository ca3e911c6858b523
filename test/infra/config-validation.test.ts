/**
 * The ElastiCache maintenance window: what ElastiCache itself refuses at deploy
 * time (and so rolls the stack back) is refused at synth instead: the
 * `ddd:hh:mm-ddd:hh:mm` format, and a length from 60 minutes to 24 hours,
 * including windows that wrap the week (Sunday into Monday).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/lib/app.js';
import { ConfigError, maintenanceWindowProblem, readConfig } from '../../infra/lib/config.js';

const problemsOf = (ctx: Record<string, unknown>): string[] => {
  try {
    readConfig(ctx);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('redisMaintenanceWindow', () => {
  it.each([
    ['sun:04:00-sun:05:00', 'the default, exactly 60 minutes'],
    ['mon:22:30-tue:00:30', 'across midnight'],
    ['sun:23:30-mon:00:30', 'wrapping the week'],
    ['sat:12:00-sun:12:00', 'exactly 24 hours'],
    ['sun:20:00-mon:20:00', '24 hours wrapping the week'],
    ['wed:01:15-wed:03:45', 'odd minutes'],
  ])('accepts %s (%s)', (window) => {
    expect(maintenanceWindowProblem(window)).toBeUndefined();
    expect(readConfig({ redisMaintenanceWindow: window }).redisMaintenanceWindow).toBe(window);
  });

  it.each([
    ['sun:04:00-sun:04:30', /lasts 30 minutes/],
    ['sun:04:00-sun:04:59', /lasts 59 minutes/],
    ['sun:04:00-sun:04:00', /lasts 0 minutes/],
    ['sun:23:45-mon:00:15', /lasts 30 minutes/],
    ['sat:12:00-sun:12:01', /lasts 1441 minutes/],
    ['mon:04:00-sun:04:00', /lasts 8640 minutes/],
    // Ends before it starts on the same day: read as a week minus 30 minutes, not as negative.
    ['sun:05:00-sun:04:30', /lasts 10050 minutes/],
  ])('refuses %s, which ElastiCache would refuse at deploy time', (window, why) => {
    expect(maintenanceWindowProblem(window)).toMatch(why);
    const problems = problemsOf({ redisMaintenanceWindow: window });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^redisMaintenanceWindow: .*60 minutes to 24 hours/);
  });

  it.each(['sunday 4am', 'sun:4:00-sun:05:00', 'sun:24:00-mon:01:00', 'sun:04:60-sun:05:30', 'xyz:04:00-xyz:05:00', 'sun:04:00', 'sun:04:00-sun:05:00x'])(
    'refuses the malformed %j',
    (window) => {
      expect(problemsOf({ redisMaintenanceWindow: window })).toEqual([
        expect.stringMatching(/^redisMaintenanceWindow: expected ddd:hh:mm-ddd:hh:mm/),
      ]);
    },
  );

  // Synthesizes the whole app (without bundling): slow on a busy machine.
  it('takes day names in any case, and passes the window to the replication group', { timeout: 120_000 }, () => {
    const config = readConfig({ redisMaintenanceWindow: 'Sun:23:30-MON:00:30' });
    expect(config.redisMaintenanceWindow).toBe('sun:23:30-mon:00:30');
    const outdir = mkdtempSync(join(tmpdir(), 'townsquare-window-'));
    try {
      const { stack } = buildApp({
        context: { redisMaintenanceWindow: 'Sun:23:30-MON:00:30', 'aws:cdk:bundling-stacks': [] },
        nag: false,
        region: 'eu-west-1',
        outdir,
      });
      Template.fromStack(stack).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        PreferredMaintenanceWindow: 'sun:23:30-mon:00:30',
      });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('jwtNotifyScope', () => {
  const provider = { jwtIssuer: 'https://x.auth0.com/', jwtAudience: 'https://api.example.com' };
  it('names the scope backends need with your own provider (default notify)', () => {
    expect(readConfig({ ...provider, jwtNotifyScope: 'send:notifications' }).jwt?.notifyScope).toBe('send:notifications');
    expect(readConfig(provider).jwt?.notifyScope).toBeUndefined();
  });

  it('is refused without jwtIssuer, and when it is not one OAuth scope', () => {
    expect(problemsOf({ jwtNotifyScope: 'notify' })).toEqual([expect.stringContaining('jwtNotifyScope: only meaningful with jwtIssuer')]);
    expect(problemsOf({ ...provider, jwtNotifyScope: 'two scopes' })).toEqual([expect.stringContaining('jwtNotifyScope: not a single OAuth scope')]);
    expect(problemsOf({ ...provider, jwtNotifyScope: 'quote"d' })).toHaveLength(1);
  });
});

describe('jwtNotifyAudience', () => {
  const provider = { jwtIssuer: 'https://x.auth0.com/', jwtAudience: 'https://api.example.com' };
  it('names the machine audience of backends\' tokens with your own provider (default: the users\' audience)', () => {
    expect(readConfig({ ...provider, jwtNotifyAudience: 'https://notify.example.com' }).jwt?.notifyAudience).toBe('https://notify.example.com');
    expect(readConfig(provider).jwt?.notifyAudience).toBeUndefined();
  });

  it('is refused without jwtIssuer, and when it is the users\' audience', () => {
    expect(problemsOf({ jwtNotifyAudience: 'https://notify.example.com' })).toEqual([expect.stringContaining('jwtNotifyAudience: only meaningful with jwtIssuer')]);
    expect(problemsOf({ ...provider, jwtNotifyAudience: 'https://api.example.com' })).toEqual([expect.stringContaining('jwtNotifyAudience: must differ from jwtAudience')]);
  });
});
