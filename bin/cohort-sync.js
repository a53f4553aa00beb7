#!/usr/bin/env node
import { dirname, join } from 'node:path';
// Runs the TypeScript CLI through tsx so `npx cohort-sync …` works from a clone without a build step.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const here = dirname(fileURLToPath(import.meta.url));
await import(join(here, '..', 'src', 'entry', 'cli', 'main.ts'));
