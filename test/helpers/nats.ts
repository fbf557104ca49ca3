// A 3-server JetStream cluster for tests (bench/nats-cluster.ts), and the skip when nats-server is missing.
import { NATS_INSTALL_HINT, NatsCluster, natsServerPath } from '../../bench/nats-cluster.js';

export { NatsCluster };

/** Whether the cluster tests can run here; prints the one line saying why not when they cannot. */
export function natsAvailable(): boolean {
  if (natsServerPath()) return true;
  console.warn(`factlog: cluster tests skipped: nats-server is not on the PATH (${NATS_INSTALL_HINT})`);
  return false;
}
