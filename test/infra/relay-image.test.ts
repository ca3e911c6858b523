/**
 * The relay image cannot be built here (no Docker engine), so check that the
 * Dockerfile builds and runs exactly what the tests run: the same build
 * command and output file, every source the bundle needs copied in, and a
 * non-root runtime stage holding only the bundle.
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RELAY_BUNDLE } from '../../local/relay-process.js';

const dockerfile = readFileSync('socket-relay/Dockerfile', 'utf8');
const lines = dockerfile.split('\n').map((l) => l.trim());
const stages = dockerfile.split(/^FROM /m).slice(1);

describe('socket-relay/Dockerfile', () => {
  it('is multi-stage and runs the bundle as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/^USER (?!root\b)\w+/m);
    expect(runtime).not.toMatch(/npm (ci|install)/);
    expect(runtime).toMatch(/COPY --from=builder .*\/app\/dist\/relay/);
    expect(runtime).toContain('CMD ["node", "--enable-source-maps", "dist/relay/main.mjs"]');
  });

  it('builds with the same command the tests use, into the file the tests start', () => {
    expect(lines).toContain('RUN node socket-relay/build.mjs');
    // build.mjs writes dist/relay/main.mjs by default; the tests run that very path.
    expect(readFileSync('socket-relay/build.mjs', 'utf8')).toContain("process.argv[2] ?? 'dist/relay/main.mjs'");
    expect(RELAY_BUNDLE.endsWith('dist/relay/main.mjs')).toBe(true);
  });

  it('copies every project source the relay bundle is made from', async () => {
    const result = await build({
      entryPoints: ['socket-relay/main.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const projectDirs = new Set(
      Object.keys(result.metafile!.inputs)
        .filter((input) => !input.startsWith('node_modules/'))
        .map((input) => input.split('/')[0]!),
    );
    const copied = new Set(lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from')).flatMap((l) => l.split(/\s+/).slice(1, -1)));
    for (const dir of projectDirs) expect(copied, `Dockerfile must COPY ${dir}`).toContain(dir);
    const ignore = readFileSync('.dockerignore', 'utf8');
    for (const dir of projectDirs) expect(ignore).toContain(`!${dir}/**`);
  });
});
