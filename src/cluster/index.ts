// Opening a database: embedded in its directory, or as a node of a cluster database (NATS JetStream).
import { open as openEmbedded, type Connection, type OpenOptions as EmbeddedOpenOptions } from '../connection.js';
import { ClusterNode } from './node.js';
import type { ClusterOptions } from './stream.js';

export type { ClusterOptions };
export { ClusterError } from './stream.js';

export interface OpenOptions extends EmbeddedOpenOptions {
  /** Open a node of this cluster database: the log is its JetStream stream, `path` the node's local copy. */
  cluster?: ClusterOptions;
}

export function open(options: OpenOptions): Promise<Connection> {
  const { cluster } = options;
  return cluster ? ClusterNode.open({ ...options, cluster }) : openEmbedded(options);
}
export { pushDatabase } from './push.js';
