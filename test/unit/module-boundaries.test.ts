/**
 * The module boundaries, read from the source tree's import statements (static,
 * dynamic and `typeof import` alike, via TypeScript's pre-processor):
 * - the relay (socket-relay/) and the functions (functions/) import neither each
 *   other nor the local stack; what they share is in shared/;
 * - the local stack (local/) reaches the relay through its one public entry
 *   (socket-relay/embed.ts) and the functions through the route list and their
 *   host entry (functions/routes.ts, functions/host.ts; it loads the handler
 *   entries the routes name by path);
 * - shared/, protocol/ and broker/ import none of the parts built on them;
 * - infra/ refers to the functions by the route list only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE = /\.(ts|tsx|mts|mjs|js)$/;

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return SOURCE.test(entry.name) ? [path] : [];
  });
}

/** Repository paths a file imports (relative specifiers only; packages are not part of the layout). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => {
      const path = relative(ROOT, resolve(ROOT, dirname(file), spec));
      // NodeNext: `./x.js` names the source `./x.ts`.
      const asTs = path.replace(/\.js$/, '.ts');
      return asTs !== path && existsSync(join(ROOT, asTs)) ? asTs : path;
    });
}

const FOLDERS = ['socket-relay', 'functions', 'local', 'shared', 'protocol', 'broker', 'infra', 'client', 'demo'];
const edges: Edge[] = FOLDERS.flatMap((dir) => sourceFiles(dir).flatMap((from) => importsOf(from).map((to) => ({ from, to }))));

const topOf = (path: string) => path.split('/')[0]!;

/** Per folder: the folders (`functions/`) or files (`functions/routes.ts`) outside it that it may import. */
const ALLOWED: Record<string, readonly string[]> = {
  'socket-relay': ['protocol/', 'broker/', 'shared/'],
  functions: ['protocol/', 'broker/', 'shared/'],
  local: ['protocol/', 'broker/', 'shared/', 'socket-relay/embed.ts', 'functions/routes.ts', 'functions/host.ts'],
  shared: ['protocol/'],
  protocol: [],
  broker: ['protocol/'],
  infra: ['functions/routes.ts', 'shared/tables.ts'],
  // The SDK ships on its own: it bundles the wire contract and nothing else of the server.
  client: ['protocol/'],
  demo: ['client/', 'protocol/'],
};

/** Every import that crosses a boundary it may not, as `from → to`. */
function violations(all: readonly Edge[]): string[] {
  return all
    .filter(({ from, to }) => {
      const allowed = ALLOWED[topOf(from)];
      if (!allowed || topOf(to) === topOf(from)) return false;
      return !allowed.some((a) => (a.endsWith('/') ? to.startsWith(a) : to === a));
    })
    .map(({ from, to }) => `${from} → ${to}`);
}

describe('module boundaries', () => {
  it('reads the imports it judges (the relay reaches shared/, the local stack the relay entry)', () => {
    expect(edges).toContainEqual({ from: 'socket-relay/compose.ts', to: 'shared/channel-access.ts' });
    expect(edges).toContainEqual({ from: 'local/stack.ts', to: 'socket-relay/embed.ts' });
    expect(edges).toContainEqual({ from: 'functions/domain/channel-access.ts', to: 'shared/channel-access.ts' });
    expect(edges.filter((e) => topOf(e.from) === 'infra').length).toBeGreaterThan(0);
  });

  it('flags each kind of crossing it forbids', () => {
    expect(
      violations([
        { from: 'socket-relay/compose.ts', to: 'functions/adapters/dynamo-stores.ts' },
        { from: 'socket-relay/compose.ts', to: 'local/dynamo.ts' },
        { from: 'local/stack.ts', to: 'socket-relay/compose.ts' },
        { from: 'local/stack.ts', to: 'functions/lib/publisher.ts' },
        { from: 'functions/lib/stores.ts', to: 'socket-relay/config.ts' },
        { from: 'functions/lib/stores.ts', to: 'local/dynamo.ts' },
        { from: 'shared/tables.ts', to: 'functions/routes.ts' },
        { from: 'infra/lib/data-tables.ts', to: 'functions/adapters/dynamo-stores.ts' },
        // Allowed: within a folder, and the named entries.
        { from: 'local/stack.ts', to: 'local/dynamo.ts' },
        { from: 'local/stack.ts', to: 'functions/host.ts' },
      ]),
    ).toHaveLength(8);
  });

  it('holds in the source tree', () => {
    expect(violations(edges)).toEqual([]);
  });
});
