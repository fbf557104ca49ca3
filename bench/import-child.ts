// Runs one import in its own process, so that its peak RSS is the import's alone.
// Usage: node dist/bench/import-child.js FILE DIR   -> prints {"ms":..,"tx":..,"peakRssMB":..}
import { runImport } from './workloads.js';

const [file, dir] = process.argv.slice(2);
if (!file || !dir) {
  process.stderr.write('usage: import-child FILE DIR\n');
  process.exit(2);
}
const result = await runImport(file, dir);
process.stdout.write(JSON.stringify(result) + '\n');
