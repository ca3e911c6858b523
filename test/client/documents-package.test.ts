/**
 * The `documents` entry as shipped: Yjs and y-protocols stay the app's (peer
 * dependencies, never bundled), the core bundle has no trace of them, and the
 * entry's own code stays small.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleOptions, DOCUMENT_PEERS } from '../../client/bundle-options.mjs';

/** The entry's own code, minified and gzipped (Yjs excluded). */
const DOCUMENTS_BUDGET_BYTES = 8 * 1024;

async function bundle(entry: string, external: string[] = []): Promise<string> {
  const out = await build({ ...bundleOptions, entryPoints: [entry], write: false, platform: 'browser', external });
  return Buffer.from(out.outputFiles[0]!.contents).toString();
}

describe('@townsquare/client/documents', () => {
  it(`imports yjs and y-protocols from the app, and stays within ${DOCUMENTS_BUDGET_BYTES / 1024} KB gzipped`, async () => {
    const code = await bundle('client/src/documents.ts', DOCUMENT_PEERS);
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`DOCUMENTS_BUNDLE_SIZE ${JSON.stringify({ minifiedBytes: code.length, gzippedBytes: gzipped, budgetBytes: DOCUMENTS_BUDGET_BYTES })}`);
    expect(code).toMatch(/from"yjs"/);
    expect(code).toMatch(/from"y-protocols\/awareness"/);
    // Yjs's own code is not in it.
    expect(code).not.toContain('encodeStateAsUpdateV2');
    expect(gzipped).toBeLessThanOrEqual(DOCUMENTS_BUDGET_BYTES);
  });

  it('leaves the core bundle without Yjs, and the package exports the entry with its peers', async () => {
    const core = await bundle('client/src/index.ts');
    expect(core).not.toMatch(/yjs|y-protocols|mergeUpdates/);
    const pkg = JSON.parse(readFileSync('client/package.json', 'utf8')) as { exports: Record<string, unknown>; peerDependencies: Record<string, string> };
    expect(pkg.exports['./documents']).toEqual({ types: './dist/types/client/src/documents.d.ts', import: './dist/documents.js' });
    expect(Object.keys(pkg.peerDependencies)).toEqual(expect.arrayContaining(['yjs', 'y-protocols']));
  });
});
