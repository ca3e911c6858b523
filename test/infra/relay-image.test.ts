/**
 * The relay image cannot be built here (no Docker engine), so test what the
 * image is made of: the build context `cdk synth` stages (infra/lib/relay-image.ts)
 * runs from an empty folder with no node_modules anywhere above it, against a
 * real redis-server, and socket-relay/Dockerfile copies exactly the files that
 * run used and starts the same entry file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type RedisProcess } from '../../local/redis-server.js';
import { PROJECT_ROOT } from '../../infra/lib/app.js';
import { RELAY_IMAGE_ENTRY, RELAY_IMAGE_FILES, stageRelayImage } from '../../infra/lib/relay-image.js';

const dockerfile = readFileSync('socket-relay/Dockerfile', 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('relay image', () => {
  let dir: string;
  let redis: RedisProcess;
  let relay: ChildProcess | undefined;
  const output: string[] = [];

  beforeAll(async () => {
    dir = stageRelayImage({ projectRoot: PROJECT_ROOT, dir: join(mkdtempSync(join(tmpdir(), 'townsquare-image-')), 'context') });
    redis = await startRedisServer({ password: 'image-test-secret' });
  }, 60_000);
  afterAll(async () => {
    relay?.kill('SIGKILL');
    await redis?.stop();
    if (dir) rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('stages only the Dockerfile and the self-contained bundle', () => {
    expect(readdirSync(dir).sort()).toEqual(['Dockerfile', ...RELAY_IMAGE_FILES].sort());
    // Nothing above the folder could lend the bundle a dependency.
    for (let d = dir; ; d = dirname(d)) {
      expect(existsSync(join(d, 'node_modules')), `${d}/node_modules`).toBe(false);
      if (dirname(d) === d) break;
    }
  });

  it('bundles no functions/ or local/ code: the relay is built from socket-relay/, shared/, broker/ and protocol/', () => {
    const { sources } = JSON.parse(readFileSync(join(dir, 'main.mjs.map'), 'utf8')) as { sources: string[] };
    // Sources are relative to the staged folder; name them from the repository root.
    const own = sources.filter((s) => !s.includes('node_modules/')).map((s) => relative(PROJECT_ROOT, resolve(dir, s)));
    expect(own).toContain('socket-relay/main.ts');
    expect(own).toContain('shared/channel-access.ts');
    expect(own.filter((s) => !/^(socket-relay|shared|broker|protocol)\//.test(s))).toEqual([]);
  });

  it('runs from that folder alone: healthy and connected to Redis with the ECS-style secret', async () => {
    const port = await freePort();
    relay = spawn(process.execPath, ['--enable-source-maps', RELAY_IMAGE_ENTRY], {
      cwd: dir,
      // Only what the task definition sets (no inherited NODE_PATH or the like).
      env: {
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        REDIS_PASSWORD: 'image-test-secret',
        JWT_JWKS_URL: 'https://issuer.invalid/.well-known/jwks.json',
        JWT_ISSUER: 'https://issuer.invalid/',
        MEMBERSHIPS_TABLE: 'memberships',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    relay.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    relay.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
    const deadline = Date.now() + 15_000;
    let health: { status?: string; broker?: string } = {};
    while (health.broker !== 'up') {
      if (relay.exitCode !== null) throw new Error(`relay exited with ${relay.exitCode}:\n${output.join('')}`);
      if (Date.now() > deadline) throw new Error(`relay not healthy with Redis up: ${JSON.stringify(health)}\n${output.join('')}`);
      try {
        health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as typeof health;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(health.status).toBe('ok');
    const exited = new Promise<number | null>((r) => relay!.once('exit', (code) => r(code)));
    relay.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);

  it('Dockerfile: one stage, no package install, copies exactly the staged bundle and runs it as non-root', () => {
    expect(instructions.filter((l) => /^FROM /i.test(l))).toHaveLength(1);
    expect(instructions.filter((l) => /^RUN /i.test(l))).toEqual([]);
    const copies = instructions.filter((l) => /^(COPY|ADD) /i.test(l));
    expect(copies).toHaveLength(1);
    const sources = copies[0]!.split(/\s+/).slice(1, -1).filter((a) => !a.startsWith('--'));
    expect(sources.sort()).toEqual([...RELAY_IMAGE_FILES].sort());
    expect(instructions.find((l) => l.startsWith('USER '))).toMatch(/^USER (?!root\b|0\b)\w+/);
    const cmd = JSON.parse(instructions.find((l) => l.startsWith('CMD '))!.slice(4)) as string[];
    expect(cmd).toEqual(['node', '--enable-source-maps', RELAY_IMAGE_ENTRY]);
  });
});
