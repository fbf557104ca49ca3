// CLI: node dist/bench/run.js [--people N] [--only q1,q2] [--runs N] [--warmup N] [--json FILE] [--quick]
//                             [--tx-limit N] [--import-datoms N] [--history-batch N] [--seed N]
import { formatTable } from './report.js';
import { parseArgs } from './args.js';
import { runBenchmark } from './runner.js';

try {
  const report = await runBenchmark(parseArgs(process.argv.slice(2)));
  process.stdout.write(formatTable(report) + '\n');
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
}
