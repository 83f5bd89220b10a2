// The workplace registry does not serve every platform build of some packages (e.g. unrs-resolver's
// android/darwin/windows bindings), so npm leaves them out of the lock and then 'npm ci' refuses the
// lock as out of sync. Run after 'npm install': npm run lock:prune
// Drops optional dependencies the lock has no entry for (platform builds the registry does not serve).
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(file, 'utf8'));
const present = new Set(Object.keys(lock.packages).map((p) => p.replace(/^.*node_modules\//, '')));
let dropped = 0;
for (const entry of Object.values(lock.packages)) {
  if (!entry.optionalDependencies) continue;
  for (const name of Object.keys(entry.optionalDependencies)) {
    if (!present.has(name)) {
      delete entry.optionalDependencies[name];
      dropped++;
    }
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`dropped ${dropped} unavailable optional dependencies`);
