/**
 * The relay container image's build context, staged at synthesis: the
 * self-contained relay bundle (socket-relay/build.mjs: one ESM file with every
 * dependency inlined, plus its source map) and socket-relay/Dockerfile, and
 * nothing else. The image build then only copies files onto node:22-alpine: no
 * `npm ci`, no native modules, nothing to compile under arm64 emulation.
 *
 * test/infra/relay-image.test.ts stages the same folder, runs the bundle from
 * it with no node_modules anywhere above it, and checks that the Dockerfile
 * copies exactly those files.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the image holds besides node itself; the Dockerfile COPYs exactly these. */
export const RELAY_IMAGE_FILES = ['main.mjs', 'main.mjs.map'] as const;
/** The file the container's CMD runs. */
export const RELAY_IMAGE_ENTRY = 'main.mjs';

export interface StageRelayImageOptions {
  /** Repository root (socket-relay/build.mjs and socket-relay/Dockerfile are relative to it). */
  projectRoot: string;
  /** Empty or missing folder to stage into; it is emptied first. */
  dir: string;
  /**
   * Build the bundle. When false (CDK told to skip bundling for this stack),
   * empty placeholders stand in for it so the asset can still be fingerprinted.
   * @default true
   */
  build?: boolean;
}

/** Stages the image build context into `dir` and returns `dir`. */
export function stageRelayImage(options: StageRelayImageOptions): string {
  const { projectRoot, dir } = options;
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(projectRoot, 'socket-relay', 'Dockerfile'), join(dir, 'Dockerfile'));
  if (options.build ?? true) {
    execFileSync(process.execPath, [join(projectRoot, 'socket-relay', 'build.mjs'), join(dir, RELAY_IMAGE_ENTRY)], {
      cwd: projectRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } else {
    for (const f of RELAY_IMAGE_FILES) writeFileSync(join(dir, f), '');
  }
  const staged = readdirSync(dir).sort();
  const expected = ['Dockerfile', ...RELAY_IMAGE_FILES].sort();
  if (staged.join() !== expected.join()) {
    throw new Error(`relay image context holds ${staged.join(', ')}; expected ${expected.join(', ')} (see infra/lib/relay-image.ts)`);
  }
  return dir;
}
