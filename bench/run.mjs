// `npm run bench -- [options]`: compiles the bench (tsc: Nest needs decorator metadata) into
// node_modules/.cache/thread-relay-bench and runs the orchestrator with the given options.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = path.join(root, 'node_modules', '.cache', 'thread-relay-bench');
mkdirSync(out, { recursive: true });
// node_modules ends every package scope: the output needs its own to be ESM.
writeFileSync(path.join(out, 'package.json'), '{ "type": "module" }\n');

const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const compiled = spawnSync(
  process.execPath,
  [tsc, '-p', path.join(root, 'bench', 'tsconfig.bench.json')],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

const run = spawnSync(
  process.execPath,
  [path.join(out, 'bench', 'orchestrator.js'), ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
