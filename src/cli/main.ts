// The `factlog` command line: builds the commander program and runs it.
import { Command, CommanderError, Option } from 'commander';
import {
  datomsCommand,
  diffCommand,
  entityCommand,
  exportCommand,
  historyCommand,
  importCommand,
  initCommand,
  logCommand,
  pullCommand,
  queryCommand,
  rebuildCommand,
  statsCommand,
  transactCommand,
  verifyCommand,
} from './commands.js';
import { formatError, dbDir, loadFunctions, setClusterTarget, setHeapShare } from './common.js';
import { clusterPushCommand } from './cluster.js';
import { demoCommand } from './demo.js';
import { backupCommand, compactCommand, exciseCommand, replicateCommand, restoreCommand } from './feed.js';

const DB_HELP = 'database directory (default: $FACTLOG_DB, else ./factlog-data)';
const TX_FNS_HELP = 'an ES module whose default export is { txFns, predicates } (transaction functions and predicates by name)';

const CLUSTER_HELP = "NATS server URLs (comma-separated): --db is then this machine's node of cluster database --name";

function withDb(cmd: Command): Command {
  return cmd
    .option('--db <dir>', DB_HELP)
    .option('--cluster <urls>', CLUSTER_HELP)
    .option('--name <name>', 'the cluster database (with --cluster)')
    .option('--heap-share <fraction>', 'the share of the heap a query, pull or read may fill before it stops with a too-large error (default 0.8; 0: no guard)')
    .hook('preAction', (command) => {
      setClusterTarget(command.opts());
      setHeapShare(command.opts());
    });
}

function withTime(cmd: Command): Command {
  return cmd.option('--as-of <t|date>', 'the database as of a t, tx id or ISO-8601 date').option('--since <t|date>', 'only datoms added after a t, tx id or date');
}

/** Wrap an action: errors become `error: <message>` on stderr and exit code 1. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`error: ${formatError(err)}\n`);
      if (process.env.FACTLOG_DEBUG && err instanceof Error) process.stderr.write(String(err.stack) + '\n');
      process.exitCode = 1;
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('factlog')
    .description('factlog: an immutable fact database with time travel and Datalog')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .exitOverride()
    // main prints commander's errors itself, with a code (see usageError)
    .configureOutput({ outputError: () => {} });

  withDb(program.command('init'))
    .description('create a database (an existing one is left alone: message on stderr, exit 0)')
    .option('--schema <file>', 'transact this EDN schema file into the new database')
    .action(action((opts) => initCommand(opts)));

  withDb(program.command('transact'))
    .description('transact EDN tx data; prints t, tx and tempids')
    .argument('[edn]', 'tx data as EDN, or - for stdin')
    .option('-f, --file <file>', 'read tx data from a file (- for stdin)')
    .addOption(new Option('--format <format>', 'output format').choices(['edn', 'json']))
    .option('--tx-fns <file>', TX_FNS_HELP)
    .action(action((edn, opts) => transactCommand(edn, opts)));

  withTime(withDb(program.command('query')))
    .description('run a Datalog query; extra arguments are EDN inputs for :in')
    .argument('[query]', 'the query as EDN, or - for stdin')
    .argument('[inputs...]', 'query inputs as EDN, in :in order after $')
    .option('-f, --file <file>', 'read the query from a file (- for stdin)')
    .option('--history', 'query the history view (assertions and retractions)')
    .addOption(new Option('--format <format>', 'output format (default: table on a terminal, edn when piped)').choices(['table', 'edn', 'json']))
    .option('--explain', 'print the query plan with row counts and timings')
    .option('--limit <n>', 'print at most n rows')
    .option('--timeout <ms>', 'stop the query after ms milliseconds with query/timeout (default 60000; 0: none)')
    .action(action((query, inputs, opts) => queryCommand(query, inputs, opts)));

  withDb(program.command('pull'))
    .description('pull a pattern for one entity')
    .argument('<pattern>', 'pull pattern, e.g. "[*]"')
    .argument('<entity>', 'entity id, ident or lookup ref, e.g. \'[:person/email "a@b.c"]\'')
    .option('--as-of <t|date>', 'the database as of a t, tx id or ISO-8601 date')
    .addOption(new Option('--format <format>', 'output format').choices(['edn', 'json']))
    .action(action((pattern, entity, opts) => pullCommand(pattern, entity, opts)));

  withDb(program.command('entity'))
    .description('every attribute of one entity')
    .argument('<entity>', 'entity id, ident or lookup ref')
    .option('--as-of <t|date>', 'the database as of a t, tx id or ISO-8601 date')
    .addOption(new Option('--format <format>', 'output format').choices(['edn', 'json']))
    .action(action((entity, opts) => entityCommand(entity, opts)));

  withDb(program.command('history'))
    .description("every assertion and retraction of an entity, oldest first, with its transaction's instant and metadata")
    .argument('<entity>', 'entity id, ident or lookup ref')
    .option('--attr <attr>', 'only this attribute')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'edn', 'json']))
    .action(action((entity, opts) => historyCommand(entity, opts)));

  withDb(program.command('diff'))
    .description('datoms added (+) and retracted (-) between two points in time')
    .argument('<from>', 't, tx id or ISO-8601 date')
    .argument('<to>', 't, tx id or ISO-8601 date')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'edn', 'json']))
    .action(action((from, to, opts) => diffCommand(from, to, opts)));

  withDb(program.command('log'))
    .description('the transaction log, one transaction per line (from t 1 unless --from 0)')
    .option('--from <t|date>', 'first transaction (inclusive)')
    .option('--to <t|date>', 'last transaction (inclusive)')
    .addOption(new Option('--format <format>', 'output format').choices(['edn', 'json']).default('edn'))
    .action(action((opts) => logCommand(opts)));

  withTime(withDb(program.command('datoms')))
    .description('raw index access: datoms of an index whose leading components match')
    .argument('<index>', 'eavt, aevt, avet or vaet')
    .argument('[components...]', 'leading components as EDN (ids, idents, lookup refs, values)')
    .option('--history', 'include retracted datoms')
    .option('--limit <n>', 'print at most n datoms')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'edn', 'json']))
    .action(action((index, components, opts) => datomsCommand(index, components, opts)));

  withDb(program.command('export'))
    .description('the whole log, one transaction per line, to stdout (import reproduces every past state)')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'edn']).default('jsonl'))
    .action(action((opts) => exportCommand(opts)));

  withDb(program.command('import'))
    .description('import an export into an empty database (after `factlog init`)')
    .argument('<file>', 'file written by export (jsonl or edn), or - for stdin')
    .action(action((file, opts) => importCommand(file, opts)));

  withDb(program.command('stats'))
    .description('datom counts per attribute and index, log length, tx instants, size on disk')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'edn', 'json']))
    .action(action((opts) => statsCommand(opts)));

  withDb(program.command('rebuild'))
    .description('rebuild every index from the log')
    .action(action((opts) => rebuildCommand(opts)));

  withDb(program.command('verify'))
    .description('check the log (checksums, factlog.log against LMDB), meta and every index against the log; read-only')
    .action(action((opts) => verifyCommand(opts)));

  withDb(program.command('repl'))
    .description('interactive Datalog shell')
    .option('--tx-fns <file>', TX_FNS_HELP)
    .action(
      action(async (opts) => {
        const { startRepl } = await import('../repl/repl.js');
        const session = await startRepl({ dir: dbDir(opts.db), functions: await loadFunctions(opts.txFns) });
        // a script piped in failed when any of its entries did; at a terminal errors are part of the dialogue
        if (session.failures > 0 && !session.interactive) process.exitCode = 1;
      }),
    );

  program
    .command('replicate')
    .description("build or update a read replica by replaying the primary's log (resumes where it left off)")
    .requiredOption('--from <dir>', 'the primary database directory')
    .requiredOption('--to <dir>', 'the replica directory (created if missing)')
    .option('--follow', 'keep following the primary until interrupted')
    .action(action((opts) => replicateCommand(opts)));

  program
    .command('cluster')
    .description('cluster databases over NATS JetStream')
    .command('push')
    .description('push an embedded database into a new cluster database, keeping its t, tx ids, entity ids and instants')
    .option('--db <dir>', DB_HELP)
    .requiredOption('--servers <urls>', 'NATS server URLs (comma-separated)')
    .requiredOption('--name <name>', 'the cluster database to make')
    .option('--replicas <n>', 'how many NATS servers keep its stream (default: the servers given, at most 3)')
    .action(action((opts) => clusterPushCommand(opts)));

  withDb(program.command('backup'))
    .description('consistent copy of a database while it is being written')
    .argument('<target>', 'an empty or new directory')
    .option('--compact', 'compact while copying (slower, smaller)')
    .action(action((target, opts) => backupCommand(undefined, target, opts)));

  program
    .command('restore')
    .description('restore a backup into a new directory')
    .argument('<backup>', 'a directory made by factlog backup')
    .argument('<target>', 'an empty or new directory')
    .action(action((backupDir, target) => restoreCommand(backupDir, target)));

  withDb(program.command('serve'))
    .description('serve the database over HTTP: the JSON/EDN API under /api and the web console at / (docs/server.md)')
    .option('--port <port>', 'port to listen on', '8420')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--query-timeout <ms>', "a query's timeout when the request gives none (default 30000)")
    .option('--max-queries <n>', 'query requests in progress at once; more get 503 (default 16)')
    .option('--query-workers <n>', 'threads queries run in, off the server loop (default: cores - 1, 2 to 8; 0: on the loop)')
    .option('--max-feeds <n>', 'live feed streams open at once; more get 503 (default 64)')
    .option('--max-body <bytes>', 'largest request body; larger gets 413 (default 10485760)')
    .option('--tx-fns <file>', TX_FNS_HELP)
    .option('--tokens <file>', 'the tokens file (default DIR/factlog.tokens); without tokens anyone who can connect may read and write')
    .option('--allow-anonymous', 'serve on an address other than loopback without tokens')
    .action(
      action(async (opts) => {
        // fastify loads only for this command
        const { serveCommand } = await import('./serve.js');
        await serveCommand(opts);
      }),
    );

  const collect = (value: string, previous: string[] = []) => [...previous, value];
  withDb(program.command('token'))
    .description('tokens for factlog serve: create (prints the token once), list, revoke ID')
    .argument('<action>', 'create, list or revoke')
    .argument('[id]', 'the token id to revoke')
    .addOption(new Option('--role <role>', 'what the token may do').choices(['read', 'write']).default('read'))
    .option('--hide <attr>', 'an attribute (:user/password-hash) or namespace (:user/*) the token does not see (repeatable)', collect)
    .option('--only <attr>', 'the only attributes or namespaces the token sees (repeatable)', collect)
    .option('--label <text>', 'a note on whose token it is')
    .option('--tokens <file>', 'the tokens file (default DIR/factlog.tokens)')
    .action(
      action(async (tokenAction, id, opts) => {
        const { tokenCommand } = await import('./serve.js');
        await tokenCommand(tokenAction, id, opts);
      }),
    );

  withDb(program.command('excise'))
    .description('remove datoms for good from every t ([:db/excise e], :attrs, :beforeT, :before); no other process may have the database open')
    .argument('[edn]', 'the excision request(s) as EDN tx data, or - for stdin')
    .option('-f, --file <file>', 'read them from a file (- for stdin)')
    .option('--tx-fns <file>', TX_FNS_HELP)
    .action(action((edn, opts) => exciseCommand(edn, opts)));

  withDb(program.command('compact'))
    .description("rewrite LMDB's file without its free pages; no other process may have the database open")
    .action(action((opts) => compactCommand(opts)));

  withDb(program.command('demo'))
    .description('create (or recreate) a sample bank database and show balances as of several dates')
    .action(action((opts) => demoCommand(opts)));

  return program;
}

/** Our codes for commander's errors about the command line itself. */
const COMMANDER_CODES: Record<string, string> = {
  'commander.unknownOption': 'cli/unknown-option',
  'commander.unknownCommand': 'cli/unknown-command',
  'commander.invalidArgument': 'cli/invalid-argument',
  'commander.missingArgument': 'cli/missing-argument',
  'commander.optionMissingArgument': 'cli/missing-argument',
  'commander.missingMandatoryOptionValue': 'cli/missing-option',
  'commander.excessArguments': 'cli/too-many-arguments',
  'commander.conflictingOption': 'cli/conflicting-option',
};

/** Commander's exits that print help or the version rather than an error. */
const COMMANDER_SILENT = new Set(['commander.help', 'commander.helpDisplayed', 'commander.version']);

/** A commander error as one line with its code, like every other error of the CLI. */
function usageError(err: CommanderError): string {
  const message = err.message
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  return `${message} [${COMMANDER_CODES[err.code] ?? 'cli/usage'}]`;
}

/** Run the CLI with process.argv-style arguments. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // `factlog ... | head`: a reader that has seen enough is no error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version text is already printed; an error is not (configureOutput above)
      if (err.exitCode !== 0 && !COMMANDER_SILENT.has(err.code)) process.stderr.write(`error: ${usageError(err)}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`error: ${formatError(err)}\n`);
    process.exitCode = 1;
  }
}
