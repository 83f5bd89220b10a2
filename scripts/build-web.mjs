#!/usr/bin/env node
// Bundles the reference server's web page: src/demo/web/main.ts (and the client SDK it
// imports) -> <out>/app.js, plus index.html and app.css. Part of `npm run build`.
//
//   node scripts/build-web.mjs [--out-dir dist/web] [--watch]
import { build, context } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/demo/web');
const STATIC_FILES = ['index.html', 'app.css'];

const { values } = parseArgs({
  options: {
    'out-dir': { type: 'string', default: join(root, 'dist/web') },
    watch: { type: 'boolean', default: false },
  },
});
const outDir = resolve(values['out-dir']);

/** @type {import('esbuild').BuildOptions} */
const options = {
  entryPoints: [join(source, 'main.ts')],
  outfile: join(outDir, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  sourcemap: true,
  minify: !values.watch,
  legalComments: 'eof',
  logLevel: 'warning',
  // The SDK is plain TypeScript with `.js` import specifiers; esbuild maps them to `.ts`.
  tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
};

async function copyStatic() {
  await mkdir(outDir, { recursive: true });
  await Promise.all(STATIC_FILES.map((file) => copyFile(join(source, file), join(outDir, file))));
}

try {
  await copyStatic();
  if (values.watch) {
    const ctx = await context(options);
    await ctx.watch();
    console.log(
      `build-web: watching ${relative(root, source)} -> ${outDir} (html/css copied once)`,
    );
  } else {
    const started = Date.now();
    await build(options);
    console.log(
      `build-web: ${relative(process.cwd(), outDir) || '.'} in ${Date.now() - started} ms`,
    );
  }
} catch (error) {
  console.error(`build-web failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
