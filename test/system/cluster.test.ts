// Cluster nodes over a real 3-server JetStream cluster on loopback, and real node processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsCluster, natsAvailable } from '../helpers/nats.js';

const available = natsAvailable();

describe.skipIf(!available)('the NATS cluster helper', () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await NatsCluster.start();
  });
  afterAll(async () => nats?.shutdown());

  it('starts 3 JetStream servers, and survives one killed and restarted', async () => {
    expect(nats.urls).toHaveLength(3);
    await nats.kill(0);
    expect(nats.isRunning(0)).toBe(false);
    await nats.waitReady(20_000);
    nats.startServer(0);
    await nats.waitReady(20_000, 0);
    const nc = await connect({ servers: nats.urls[0] });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.getAccountInfo();
    expect(info.streams).toBe(0);
    await nc.close();
  });
});
