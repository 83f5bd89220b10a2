// Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): self time by function
// and by package; or a .heapprofile (`-- --alloc-profile`): bytes allocated, the same way.
// Usage: node bench/profile-summary.mjs <file.cpuprofile|file.heapprofile> [top=25]
import { readFileSync } from 'node:fs';
import process from 'node:process';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
if (profile.head) {
  summariseAllocations(profile);
  process.exit(0);
}
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

function packageOf(url) {
  if (!url) return '(native/vm)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match && !url.includes('.cache/thread-relay-bench')) return match[1];
  if (url.includes('/src/')) return 'thread-relay src';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.startsWith('node:')) return 'node core';
  return url;
}

const functions = new Map();
const packages = new Map();
for (const [id, micros] of selfMicros) {
  const { callFrame } = byId.get(id);
  const short = callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
  const key = `${callFrame.functionName || '(anonymous)'} ${short}:${callFrame.lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + micros);
  const pkg = packageOf(callFrame.url);
  packages.set(pkg, (packages.get(pkg) ?? 0) + micros);
}
const pct = (micros) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n\nby package:\n`);
for (const [name, micros] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(micros)}  ${name}\n`);
}
// Inclusive time: a node's self time plus its descendants', per function (recursion counted once).
const parentOf = new Map();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parentOf.set(child, node.id);
const inclusive = new Map();
for (const [id, micros] of selfMicros) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parentOf.get(at)) {
    const { callFrame } = byId.get(at);
    const short = callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
    const key = `${callFrame.functionName || '(anonymous)'} ${short}:${callFrame.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
  }
}
process.stdout.write('\nby function (inclusive):\n');
for (const [name, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top * 2)) {
  process.stdout.write(`${pct(micros)}  ${name}\n`);
}
process.stdout.write('\nby function (self):\n');
for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(micros)}  ${name}\n`);
}

/** Allocation sampling profile: a call tree whose nodes carry the bytes allocated there. */
function summariseAllocations({ head }) {
  const self = new Map();
  const inclusive = new Map();
  const byPackage = new Map();
  const keyOf = ({ callFrame }) => {
    const short = callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
    return `${callFrame.functionName || '(anonymous)'} ${short}:${callFrame.lineNumber + 1}`;
  };
  const walk = (node, stack) => {
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    const pkg = packageOf(node.callFrame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + node.selfSize);
    stack.push(key);
    let total = node.selfSize;
    for (const child of node.children) total += walk(child, stack);
    stack.pop();
    if (!stack.includes(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + total);
    return total;
  };
  const total = walk(head, []);
  const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1).padStart(8)} MiB`;
  process.stdout.write(`${file}: ${mib(total).trim()} allocated (sampled)\n`);
  for (const [title, table, rows] of [
    ['by package', byPackage, top],
    ['by function (inclusive)', inclusive, top * 2],
    ['by function (self)', self, top],
  ]) {
    process.stdout.write(`\n${title}:\n`);
    for (const [name, bytes] of [...table].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      process.stdout.write(`${mib(bytes)}  ${name}\n`);
    }
  }
}
