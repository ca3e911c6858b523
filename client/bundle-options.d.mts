import type { BuildOptions } from 'esbuild';
export declare const bundleOptions: BuildOptions;
export declare const SIZE_BUDGET_BYTES: number;
