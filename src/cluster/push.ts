// An embedded database into a cluster database: its log records, as they are, appended to the
// stream (same t, tx ids, entity ids and instants). A push cut short goes on where the stream ends.
import { open as openEmbedded } from '../connection.js';
import { diverged } from './follower.js';
import { pushRecords } from './node.js';
import { ClusterError, LogStream, type ClusterOptions } from './stream.js';

/** Push the database in `dir` into the stream of `cluster.name`; resolves with the stream's last t. */
export async function pushDatabase(dir: string, cluster: ClusterOptions, onProgress?: (t: number) => void): Promise<number> {
  const conn = await openEmbedded({ path: dir, create: false });
  try {
    const stream = await LogStream.connect(cluster);
    try {
      const store = conn.store;
      const { seq, t: streamT } = await stream.end();
      if (streamT > store.lastT()) {
        throw new ClusterError('cluster/not-empty', `the stream ${stream.streamName} is at t=${streamT}, past ${dir} at t=${store.lastT()}: push into a new cluster database name`);
      }
      if (streamT >= 0) {
        const theirs = (await stream.message(seq))?.records.at(-1);
        if (theirs?.t !== streamT || theirs.chain !== store.chainHash(streamT)!.toString('hex')) throw diverged(store, streamT);
      }
      await pushRecords(store, stream, streamT + 1, seq, onProgress);
      return store.lastT();
    } finally {
      await stream.close();
    }
  } finally {
    await conn.close();
  }
}
