import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layering README's "Architecture" section describes, held against the imports: a
 * folder of src/ (or a top-level file) imports only what stands below it.
 */
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Bottom first. A unit may import its own layer's units only where listed in `SAME_LAYER`. */
const LAYERS: string[][] = [
  [
    'protocol.ts',
    'thread-relay.constants.ts',
    'thread-record.ts',
    'sets-by-key.ts',
    'sockets/',
    'observability/',
    'errors/',
    'events/',
    'formats/',
    'thread-relay.options.ts',
    'ids.ts',
    'thread-relay.logger.ts',
  ],
  ['client/'],
  ['cluster/', 'limits/'],
  ['registry/', 'auth/', 'payloads/'],
  ['delivery/'],
  ['redis/'],
  ['compat/', 'gateway/', 'http/', 'sse/', 'options/', 'thread-relay.lifecycle.ts'],
  [
    'thread-relay.options-resolver.ts',
    'thread-relay.routes.ts',
    'thread-relay.module-definition.ts',
    'thread-relay.providers.ts',
  ],
  ['producer/', 'thread-relay.module.ts', 'publisher/'],
  ['index.ts', 'demo/', 'main.ts'],
];

/** Imports inside one layer that are allowed (importer -> imported). */
const SAME_LAYER = new Set([
  'errors/ -> protocol.ts',
  'events/ -> protocol.ts',
  'formats/ -> protocol.ts',
  'thread-relay.options.ts -> thread-record.ts',
  'ids.ts -> errors/',
  'thread-relay.logger.ts -> thread-relay.options.ts',
  'sse/ -> http/',
  'thread-relay.module-definition.ts -> thread-relay.routes.ts',
  'thread-relay.providers.ts -> thread-relay.module-definition.ts',
  'thread-relay.providers.ts -> thread-relay.options-resolver.ts',
  'thread-relay.module.ts -> producer/',
  'publisher/ -> producer/',
  'main.ts -> demo/',
]);

/** The browser SDK ships alone: it may import the wire protocol and nothing else of the server. */
const CLIENT_MAY_IMPORT = new Set(['client/', 'protocol.ts']);

function unitOf(file: string): string {
  const rel = relative(SRC, file).split(sep);
  return rel.length === 1 ? (rel[0] ?? '') : `${rel[0] ?? ''}/`;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT =
  /(?:import|export)\s[^'"]*?from\s*'(\.{1,2}\/[^']+)'|import\s*\(?\s*'(\.{1,2}\/[^']+)'/g;

function importsOf(file: string): { from: string; to: string }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].flatMap((match) => {
    const spec = match[1] ?? match[2];
    if (!spec) return [];
    const target = normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')));
    if (!target.startsWith(SRC)) return [{ from: unitOf(file), to: `outside src: ${spec}` }];
    return [{ from: unitOf(file), to: unitOf(target) }];
  });
}

const layerOf = new Map(LAYERS.flatMap((units, index) => units.map((unit) => [unit, index])));
const edges = sourceFiles(SRC).flatMap((file) =>
  importsOf(file).map((edge) => ({ ...edge, file: relative(SRC, file) })),
);

describe('layers of src/', () => {
  it('keeps every spec under test/', () => {
    expect(sourceFiles(SRC).filter((file) => file.endsWith('.spec.ts'))).toEqual([]);
  });

  it('places every folder and top-level file in a layer', () => {
    const units = new Set(sourceFiles(SRC).map(unitOf));
    expect([...units].filter((unit) => !layerOf.has(unit))).toEqual([]);
  });

  it('has no import that runs up a layer or sideways unless listed', () => {
    const wrong = edges
      .filter(({ from, to }) => from !== to)
      .filter(({ from, to }) => {
        const a = layerOf.get(from);
        const b = layerOf.get(to);
        if (a === undefined || b === undefined) return true;
        return b > a || (b === a && !SAME_LAYER.has(`${from} -> ${to}`));
      })
      .map(({ file, from, to }) => `${file}: ${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });

  it('keeps the SDK free of server code', () => {
    const wrong = edges
      .filter(({ from, to }) => from === 'client/' && !CLIENT_MAY_IMPORT.has(to))
      .map(({ file, to }) => `${file} -> ${to}`);
    expect(wrong).toEqual([]);
  });

  it('lets only the composition import the providers', () => {
    const wrong = edges
      .filter(({ to }) => to === 'thread-relay.providers.ts')
      .filter(({ from }) => !['thread-relay.module.ts', 'producer/'].includes(from))
      .map(({ file }) => file);
    expect(wrong).toEqual([]);
  });
});
