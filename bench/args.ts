// Command-line options of the benchmark.
import { WORKLOAD_NAMES, type BenchOptions } from './runner.js';
import { parseDatoms } from './scale.js';

export const USAGE = `usage: npm run bench -- [options]
  --people N          people to generate (default 20000; 5 datoms each)
  --only a,b          workloads or groups (${Object.keys(WORKLOAD_NAMES).join(', ')})
  --runs N            timed runs per engine (default 7)
  --warmup N          untimed runs first (default 2)
  --json FILE         write the full report as JSON
  --quick             tiny sizes (what the test runs)
  --tx-limit N        sequential durable transactions per run of add-1/add-5/retract-5 (default 2000)
  --import-datoms N   size of the streaming import (default 1000000)
  --history-batch N   entity updates per history transaction (default 1: 5 x people transactions)
  --seed N            data generator seed (default 1)
  --column-datoms N   open factlog with this columnDatoms (memory for attribute columns; 0 = none)
  --scale-datoms N    size of the scale group's shop history: 1M (default), 5M, 20M, 250k...
                      (the scale group runs only when named: --only scale)
  --scale-ds-max N    DataScript loads the scale history only up to this size (default 2M)
workloads: ${Object.values(WORKLOAD_NAMES).flat().join(' ')}`;

export function parseArgs(argv: string[]): Partial<BenchOptions> {
  const o: Partial<BenchOptions> = {};
  const int = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case '--people':
        o.people = int(a, next());
        break;
      case '--only':
        o.only = next()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '--runs':
        o.runs = Math.max(1, int(a, next()));
        break;
      case '--warmup':
        o.warmup = int(a, next());
        break;
      case '--json':
        o.json = next();
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--tx-limit':
        o.txLimit = Math.max(1, int(a, next()));
        break;
      case '--import-datoms':
        o.importDatoms = Math.max(5, int(a, next()));
        break;
      case '--history-batch':
        o.historyBatch = Math.max(1, int(a, next()));
        break;
      case '--seed':
        o.seed = int(a, next());
        break;
      case '--scale-datoms':
        o.scaleDatoms = parseDatoms(next());
        break;
      case '--scale-ds-max':
        o.scaleDsMax = parseDatoms(next());
        break;
      case '--column-datoms':
        o.columnDatoms = int(a, next());
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        return process.exit(0);
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  return o;
}
