/**
 * Summarizes `.cpuprofile` files from relays run with `--cpu-prof`
 * (`npm run bench -- --scenario fanout --profile DIR`): self time by function
 * and by package, with positions in the minified bundle mapped back through
 * `dist/relay/main.mjs.map`.
 *
 *   npx tsx bench/profile-summary.ts DIR/*.cpuprofile [--top 30]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '30' } }, allowPositionals: true });
const top = Number(values.top);
const mapFile = resolve('dist/relay/main.mjs.map');
const sourceMap = existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null;

function locate(frame: ProfileNode['callFrame']): { where: string; pkg: string } {
  const name = frame.functionName || '(anonymous)';
  if (frame.url.endsWith('main.mjs') && sourceMap) {
    const entry = sourceMap.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number; name?: string };
    if (entry.originalSource) {
      const src = entry.originalSource.replace(/^.*?(node_modules\/|\.\.\/)/, (m, g: string) => (g === 'node_modules/' ? g : ''));
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(src)?.[1] ?? src.split('/').slice(0, 1).join('/');
      return { where: `${entry.name ?? name} ${src}:${(entry.originalLine ?? 0) + 1}`, pkg };
    }
  }
  if (!frame.url) return { where: name, pkg: name.startsWith('(') ? name : '(native)' };
  const pkg = frame.url.startsWith('node:') ? 'node core' : basename(frame.url);
  return { where: `${name} ${frame.url.replace(/^file:\/\//, '')}:${frame.lineNumber + 1}`, pkg };
}

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const totalUs = profile.endTime - profile.startTime;
  const perSample = totalUs / Math.max(1, profile.samples.length);
  const byWhere = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { where, pkg } = locate(node.callFrame);
    const us = hits * perSample;
    if (node.callFrame.functionName !== '(idle)') busy += us;
    byWhere.set(where, (byWhere.get(where) ?? 0) + us);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => ((us / totalUs) * 100).toFixed(1).padStart(5);
  console.log(`\n${file}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${pct(busy)} % not idle`);
  console.log('\nself time by package / area:');
  for (const [k, us] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(us)} %  ${k}`);
  console.log(`\nself time, top ${top} functions:`);
  for (const [k, us] of [...byWhere].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)} %  ${k}`);
}
