/**
 * Bundles every route's handler exactly as the CDK app does (infra/lib/bundling.ts:
 * minified ESM for node22, @aws-sdk/* external, external source map) and
 * reports, per route, the bundle size and the cold import time in a fresh
 * `node` process (median of 3 runs).
 *
 *   npm run bundle-size              # markdown table
 *   npm run bundle-size -- --check   # also exit 1 when a bundle exceeds the budget
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { routes } from '../functions/routes.js';
import { tableEnvVar } from '../shared/tables.js';
import {
  ESM_REQUIRE_BANNER,
  LAMBDA_EXTERNAL_MODULES,
  LAMBDA_MAIN_FIELDS,
  LAMBDA_NODE_TARGET,
  publisherDefine,
  type PublisherDriver,
} from '../infra/lib/bundling.js';

const BUDGET_KB = 150;
const RUNS = 3;
const root = fileURLToPath(new URL('..', import.meta.url));
// Inside the repository so the bundles resolve the external @aws-sdk/* packages from node_modules.
const outRoot = join(root, 'node_modules', '.cache', 'townsquare-bundle-size');

// Handlers read configuration lazily, but give them a plausible environment anyway.
const env: NodeJS.ProcessEnv = {
  ...process.env,
  AWS_REGION: 'us-east-1',
  LOG_LEVEL: 'silent',
  REDIS_URL: 'redis://127.0.0.1:1',
  ...Object.fromEntries(Object.values(tableEnvVar).map((v) => [v, `bundle-size-${v.toLowerCase()}`])),
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function coldImportMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    samples.push(Number(out));
  }
  return median(samples);
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  rmSync(outRoot, { recursive: true, force: true });
  // Publishing routes are built per Redis mode (the other client is dropped); the rest are identical in both.
  const rows: Array<{ route: string; entry: string; mode: string; kb: number; ms: number }> = [];
  for (const route of routes) {
    const modes: Array<PublisherDriver | null> = route.publishes ? ['redis', 'upstash'] : [null];
    for (const mode of modes) {
      const outdir = join(outRoot, `${route.entry.replace(/[^A-Za-z0-9]+/g, '-')}-${mode ?? 'any'}`);
      mkdirSync(outdir, { recursive: true });
      const outfile = join(outdir, 'index.mjs');
      // The same options NodejsFunction passes to esbuild for these props.
      await build({
        entryPoints: [join(root, route.entry)],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: LAMBDA_NODE_TARGET,
        minify: true,
        sourcemap: 'external',
        sourcesContent: false,
        external: LAMBDA_EXTERNAL_MODULES,
        mainFields: LAMBDA_MAIN_FIELDS,
        banner: { js: ESM_REQUIRE_BANNER },
        define: publisherDefine(mode ?? 'redis'),
        logLevel: 'error',
      });
      rows.push({
        route: route.routeKey,
        entry: route.entry,
        mode: mode === null ? 'both' : mode === 'redis' ? 'elasticache' : 'upstash',
        kb: statSync(outfile).size / 1024,
        ms: coldImportMs(outfile),
      });
    }
  }

  const over = rows.filter((r) => r.kb > BUDGET_KB);
  console.log(`| route | entry | Redis mode | bundle KB | cold import ms (median of ${RUNS}) |`);
  console.log('|---|---|---|---:|---:|');
  for (const r of rows) {
    const flag = r.kb > BUDGET_KB ? ` ⚠ > ${BUDGET_KB}` : '';
    console.log(`| \`${r.route}\` | ${r.entry} | ${r.mode} | ${r.kb.toFixed(1)}${flag} | ${r.ms.toFixed(1)} |`);
  }
  console.log(
    `\n${rows.length} bundles; budget ${BUDGET_KB} KB each (minified, source map excluded); ` +
      `${over.length ? `${over.length} over budget` : 'all within budget'}. Bundles in ${relative(root, outRoot)}/.`,
  );
  if (check && over.length) process.exitCode = 1;
}

await main();
