// A query worker: a thread with a read-only connection of its own to the server's database,
// answering read requests as of the t and with the attribute filter the server fixed for each.
import { parentPort, workerData } from 'node:worker_threads';
import { readEdn } from '../../query-lang/edn/reader.js';
import { open, type Connection } from '../connection.js';
import { asCoded } from './errors.js';
import { restrict, visibility } from './access.js';
import { answerRead } from './reads.js';
import { encodeReply } from './reply.js';
import { ednBodyObject } from './wire.js';
import type { WorkerJob, WorkerMessage } from './query-pool.js';

const port = parentPort!;
const utf8 = new TextEncoder();
const opening: Promise<Connection> = open({ path: (workerData as { dir: string }).dir, readOnly: true, create: false });
// ready once open; a failed open is told to each request, not thrown here
opening.then(
  () => port.postMessage({ ready: true }),
  () => port.postMessage({ ready: true }),
);

port.on('message', (message: WorkerMessage) => {
  if (message.type === 'close') void close();
  else void run(message.id, message.job);
});

async function run(id: number, job: WorkerJob): Promise<void> {
  try {
    const conn = await opening;
    // the body's bytes are moved to the server's thread, not copied (nor a value tree cloned and encoded there)
    const body = utf8.encode(encodeReply(answer(conn, job), job.replyEdn));
    port.postMessage({ id, body }, [body.buffer]);
  } catch (err) {
    port.postMessage({ id, error: asCoded(err) });
  }
}

function answer(conn: Connection, job: WorkerJob): unknown {
  const body = job.ednText !== undefined ? { fields: ednBodyObject(readEdn(job.ednText)), edn: true } : { fields: job.fields ?? {}, edn: false };
  const grant = { role: 'read' as const, visible: job.access ? visibility(job.access) : null, tokenId: null };
  return answerRead(restrict(dbAt(conn, job.t), grant), { kind: job.kind, body, params: job.params, timeoutMs: job.timeoutMs, pageSize: job.pageSize });
}

/** The db value at t: the server committed it before asking, so a stale read snapshot is renewed. */
function dbAt(conn: Connection, t: number) {
  if (conn.db().basisT < t) {
    conn.store.refresh();
    conn.db();
  }
  return conn.dbAt(t);
}

async function close(): Promise<void> {
  const conn = await opening.catch(() => null);
  await conn?.close();
  port.close();
}
