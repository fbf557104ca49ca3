// CLI: node dist/bench/run.js [--people N] [--only q1,q2] [--runs N] [--warmup N] [--json FILE] [--quick]
//                             [--tx-limit N] [--import-datoms N] [--history-batch N] [--seed N]
import { formatTable } from './report.js';
import { parseArgs } from './args.js';
import { runBenchmark } from './runner.js';
import { runClusterBench } from './cluster.js';

try {
  const args = parseArgs(process.argv.slice(2));
  // the cluster benchmark needs NATS servers and node processes: it runs on its own
  if (args.only?.length === 1 && args.only[0] === 'cluster') {
    process.stdout.write((await runClusterBench()) + '\n');
    process.exit(0);
  }
  const report = await runBenchmark(args);
  process.stdout.write(formatTable(report) + '\n');
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
}
