// Runs `factlog import` of one file into a new database in a process of its own, so that its
// peak RSS and anonymous memory are the import's alone.
// Usage: node dist/bench/scale-import-child.js FILE DIR  -> prints one line of JSON (ScaleImportResult)
import fs from 'node:fs';
import { open } from '../src/index.js';
import { importIntoEmpty } from '../src/cli/transfer.js';

export interface ScaleImportResult {
  ms: number;
  transactions: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** VmHWM: the most resident memory the process had. */
  peakRssMB: number;
  /** The most RssAnon seen, sampled every 50 ms: heap and native allocations, not LMDB's mapped file. */
  peakAnonMB: number;
}

/** One field of /proc/self/status, in MB (0 where there is no /proc). */
function procStatusMB(field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function main(file: string, dir: string): Promise<ScaleImportResult> {
  const conn = await open({ path: dir, create: true });
  await conn.close();
  let peakAnonMB = procStatusMB('RssAnon');
  const sampler = setInterval(() => (peakAnonMB = Math.max(peakAnonMB, procStatusMB('RssAnon'))), 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { count } = await importIntoEmpty(dir, file);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peakAnonMB = Math.max(peakAnonMB, procStatusMB('RssAnon'));
  return { ms, transactions: count, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, peakRssMB: procStatusMB('VmHWM'), peakAnonMB };
}

const [file, dir] = process.argv.slice(2);
if (file && dir) process.stdout.write(JSON.stringify(await main(file, dir)) + '\n');
else {
  process.stderr.write('usage: scale-import-child FILE DIR\n');
  process.exit(2);
}
