// `factlog cluster push`: an embedded database into a new cluster database.
import { pushDatabase } from '../cluster/index.js';
import { CliError, dbDir, hasDatabase, parseCount } from './common.js';

export async function clusterPushCommand(opts: { db?: string; servers: string; name: string; replicas?: string }): Promise<void> {
  const dir = dbDir(opts.db);
  if (!hasDatabase(dir)) throw new CliError('cli/no-database', `no factlog database at ${dir}`);
  const replicas = opts.replicas === undefined ? undefined : parseCount(opts.replicas, '--replicas');
  const lastT = await pushDatabase(dir, { servers: opts.servers.split(',').filter(Boolean), name: opts.name, replicas });
  process.stdout.write(`pushed ${dir} (t 0 to ${lastT}) into cluster database ${opts.name}\n`);
}
