#!/usr/bin/env node
/** `cdk synth` / `cdk deploy` entry point (see cdk.json and docs/deploy.md). */
import { ConfigError } from '../lib/config.js';
import { buildApp } from '../lib/app.js';

try {
  buildApp();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
