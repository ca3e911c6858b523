import type { BuildOptions } from 'esbuild';
export declare const bundleOptions: BuildOptions;
export declare const SIZE_BUDGET_BYTES: number;
export declare const DOCUMENT_PEERS: string[];
