// env-gate.ts: opens, closes and write transactions of one LMDB environment pass one process at a
// time (lmdb-js corrupts a writer's transactions when another process opens or closes the
// environment meanwhile; test/system/multiprocess.test.ts runs that case end to end).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open as lmdbOpen } from 'lmdb';
import { open, pull, q } from '../../src/index.js';
import { newestCommittedTxnid } from '../../src/storage/file-check.js';
import { lastCommittedInLockFile } from '../../src/storage/lmdb-lock.js';
import { environmentOptions } from '../../src/storage/store.js';
import { closedDatabase, tempDir } from '../helpers/tmp.js';
import { factlog, ROOT } from '../helpers/cli.js';

const gateTickets = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith('factlog.gate.'));

/** A live process whose gate ticket in `dir` says inside, and which writes `released` just before it says outside, after `ms`. */
function gateHolder(dir: string, ms: number) {
  const released = path.join(dir, '..', 'released');
  const script = `
    const fs = require('node:fs');
    const ticket = ${JSON.stringify(dir)} + '/factlog.gate.' + process.pid + '.0';
    fs.writeFileSync(ticket, '1');
    process.stdout.write('holding\\n');
    setTimeout(() => { fs.writeFileSync(${JSON.stringify(released)}, ''); fs.writeFileSync(ticket, '0'); }, ${ms});
    setTimeout(() => {}, ${ms + 2000});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const holding = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { child, holding, released };
}

/**
 * A live process inside the gate for real (env-gate.ts's own pass, from dist/), stopped there
 * with SIGSTOP as a writer stopped mid-commit would be; `resume` lets it go on and leave.
 */
async function stoppedInsideGate(dir: string, { alone = false } = {}) {
  const gate = path.join(ROOT, 'dist', 'src', 'storage', 'env-gate.js');
  const leave = path.join(dir, '..', 'leave');
  const script = `
    const fs = require('node:fs');
    import(${JSON.stringify(gate)}).then(({ throughEnvironmentGate }) => throughEnvironmentGate(${JSON.stringify(dir)}, () => {
      fs.writeSync(1, 'inside\\n');
      while (!fs.existsSync(${JSON.stringify(leave)})) {}
    }, { alone: ${alone} }));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGSTOP');
  const resume = () => {
    fs.writeFileSync(leave, '');
    child.kill('SIGCONT');
    return new Promise((resolve) => child.on('close', resolve));
  };
  return { child, resume };
}

/** lmdb-js's environment of the factlog database in `dir`, as factlog opens it, and its meta table. */
async function rawEnvironment(dir: string) {
  const env = lmdbOpen(environmentOptions(path.join(dir, 'factlog.mdb'), { readOnly: true }));
  return { env, meta: env.openDB('meta', {}) };
}

/**
 * A live process inside an LMDB write transaction of the database in `dir`, in the gate as factlog
 * writes (from dist/), stopped there with SIGSTOP; `resume` lets it commit, close and exit.
 */
async function stoppedInsideWriteTransaction(dir: string) {
  const leave = path.join(dir, '..', 'leave');
  const dist = (module: string) => JSON.stringify(path.join(ROOT, 'dist', 'src', 'storage', module));
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    (async () => {
      const { open } = await import('lmdb');
      const { throughEnvironmentGate, joinEnvironmentGate } = await import(${dist('env-gate.js')});
      const { environmentOptions } = await import(${dist('store.js')});
      const dir = ${JSON.stringify(dir)};
      const leaveGate = joinEnvironmentGate(dir);
      const env = throughEnvironmentGate(dir, () => open(environmentOptions(path.join(dir, 'factlog.mdb'), {})));
      const meta = env.openDB('meta', {});
      throughEnvironmentGate(dir, () => env.transactionSync(() => {
        meta.putSync('gate-test', 'committed');
        fs.writeSync(1, 'inside\\n');
        while (!fs.existsSync(${JSON.stringify(leave)})) {}
      }));
      throughEnvironmentGate(dir, () => env.close());
      leaveGate();
    })();`;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGSTOP');
  const resume = () => {
    fs.writeFileSync(leave, '');
    child.kill('SIGCONT');
    return new Promise((resolve) => child.on('close', resolve));
  };
  return { child, resume };
}

describe('the environment gate', () => {
  it('a reader does not wait on a process stopped inside the gate: it opens and queries at once, and leaves the live process its ticket', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const holder = await stoppedInsideGate(dir);
    try {
      const started = Date.now();
      const conn = await open({ path: dir, readOnly: true });
      expect(q(`[:find ?n :where [_ :person/name ?n]]`, conn.db())).toEqual([['Ann']]);
      await conn.close();
      expect(Date.now() - started).toBeLessThan(1000);
      const cli = await factlog(['query', '--db', dir, '[:find ?n :where [_ :person/name ?n]]']);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      expect(cli.stdout).toContain('Ann');
      expect(fs.existsSync(path.join(dir, `factlog.gate.${holder.child.pid}.0`))).toBe(true); // a live process's ticket stays
    } finally {
      await holder.resume();
    }
  }, 60_000);

  it('a reader opens and queries at once while a writer is stopped inside an LMDB commit, and the writer then commits losing nothing', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const dataFile = path.join(dir, 'factlog.mdb');
    const writer = await stoppedInsideWriteTransaction(dir);
    try {
      for (let round = 0; round < 3; round++) {
        const started = Date.now();
        const conn = await open({ path: dir, readOnly: true });
        expect(q(`[:find ?n :where [_ :person/name ?n]]`, conn.db())).toEqual([['Ann']]);
        await conn.close();
        expect(Date.now() - started).toBeLessThan(1000);
      }
      const cli = await factlog(['query', '--db', dir, '[:find ?n :where [_ :person/name ?n]]']);
      expect([cli.code, cli.stderr]).toEqual([0, '']);
      expect(cli.stdout).toContain('Ann');
    } finally {
      expect(await writer.resume()).toBe(0);
    }
    expect(lastCommittedInLockFile(dataFile)).toBe(newestCommittedTxnid(dataFile));
    const conn = await open({ path: dir });
    await conn.transact(`[{:db/id "e" :person/name "Ed"}]`);
    expect(
      q(`[:find ?n :where [_ :person/name ?n]]`, conn.db())
        .map((row: unknown[]) => String(row[0]))
        .sort(),
    ).toEqual(['Ann', 'Ed']);
    await conn.close();
    const raw = await rawEnvironment(dir);
    expect(raw.meta.get('gate-test')).toBe('committed'); // the stopped writer's commit landed, after the readers' opens
    await raw.env.close();
  }, 60_000);

  it('a reader does not go in beside a process stopped while it moves the files (an import, a set-aside): storage/gate-stopped names it', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const holder = await stoppedInsideGate(dir, { alone: true });
    try {
      const started = Date.now();
      const err = await open({ path: dir, readOnly: true }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(err).toMatchObject({ code: 'storage/gate-stopped' });
      expect((err as Error).message).toContain(`process ${holder.child.pid} is stopped`);
      expect((err as Error).message).not.toMatch(/delete|remove/i);
    } finally {
      await holder.resume();
    }
  }, 30_000);

  it('a read-only store closes at once while a process is stopped inside the gate; a writer gets storage/gate-stopped instead of waiting', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const reader = await open({ path: dir, readOnly: true });
    let holder = await stoppedInsideGate(dir);
    try {
      const started = Date.now();
      await reader.close();
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await holder.resume();
    }
    fs.rmSync(path.join(dir, '..', 'leave'));
    const writer = await open({ path: dir });
    holder = await stoppedInsideGate(dir);
    try {
      const started = Date.now();
      await expect(writer.close()).rejects.toMatchObject({ code: 'storage/gate-stopped' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await holder.resume();
    }
  }, 30_000);

  it('the ticket of a process that ended inside the gate but was not reaped yet (a zombie) holds nobody up, and is removed', async () => {
    const dir = await closedDatabase('factlog-gate-');
    // node writes a ticket saying inside and ends; its parent, now sleep, never reaps it
    const inside = `require('node:fs').writeFileSync(${JSON.stringify(dir)} + '/factlog.gate.' + process.pid + '.0', '1')`;
    const shell = spawn('sh', ['-c', `${JSON.stringify(process.execPath)} -e ${JSON.stringify(inside)} & echo $!; exec sleep 20`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => shell.stdout.once('data', (d) => resolve(String(d)))));
      const ticket = path.join(dir, `factlog.gate.${zombie}.0`);
      for (let i = 0; i < 200 && !fs.existsSync(ticket); i++) await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 200 && !fs.readFileSync(`/proc/${zombie}/stat`, 'latin1').includes(') Z'); i++) await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      const conn = await open({ path: dir, readOnly: true });
      expect(Date.now() - started).toBeLessThan(5000);
      await conn.close();
      expect(fs.existsSync(ticket)).toBe(false);
    } finally {
      shell.kill();
    }
  }, 30_000);

  it('an open waits while another live process is inside the gate, and goes on once it has left', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const holder = gateHolder(dir, 400);
    try {
      await holder.holding;
      const conn = await open({ path: dir, readOnly: true });
      expect(fs.existsSync(holder.released)).toBe(true); // the holder had left before the open went on
      expect(q(`[:find ?n :where [_ :person/name ?n]]`, conn.db())).toEqual([['Ann']]);
      await conn.close();
    } finally {
      holder.child.kill();
    }
  });

  it('a transact waits for the gate too, and loses nothing', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const conn = await open({ path: dir });
    const holder = gateHolder(dir, 400);
    try {
      await holder.holding;
      const report = await conn.transact(`[{:db/id "b" :person/name "Bo"}]`);
      expect(fs.existsSync(holder.released)).toBe(true);
      expect(pull(conn.db().asOf(report.t), '[:person/name]', report.tempids.b!)).toEqual({ 'person/name': 'Bo' });
    } finally {
      holder.child.kill();
      await conn.close();
    }
  });

  it('tickets of processes that died inside the gate are ignored and removed', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('close', resolve));
    const stale = path.join(dir, `factlog.gate.${dead.pid}.0`);
    fs.writeFileSync(stale, '');
    const conn = await open({ path: dir });
    await conn.transact(`[{:db/id "c" :person/name "Cy"}]`);
    await conn.close();
    expect(fs.existsSync(stale)).toBe(false);
  });

  it('leaves no ticket behind, and a directory holding only tickets is still empty enough to create a database in', async () => {
    const dir = await closedDatabase('factlog-gate-');
    expect(gateTickets(dir)).toEqual([]);
    const fresh = path.join(tempDir('factlog-gate-'), 'db');
    fs.mkdirSync(fresh);
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('close', resolve));
    fs.writeFileSync(path.join(fresh, `factlog.gate.${dead.pid}.0`), '');
    const conn = await open({ path: fresh });
    expect(conn.basisT).toBeGreaterThanOrEqual(0);
    await conn.close();
    expect(gateTickets(fresh)).toEqual([]);
  });

  it('an open store keeps one ticket, outside between passes, and a transact rewrites it instead of making a new one', async () => {
    const dir = await closedDatabase('factlog-gate-');
    const conn = await open({ path: dir });
    const [ticket, ...more] = gateTickets(dir);
    expect(more).toEqual([]);
    expect(ticket).toMatch(new RegExp(`^factlog\\.gate\\.${process.pid}\\.`));
    const before = fs.statSync(path.join(dir, ticket!));
    await conn.transact(`[{:db/id "d" :person/name "Di"}]`);
    const after = fs.statSync(path.join(dir, ticket!));
    expect(after.ino).toBe(before.ino);
    expect(fs.readFileSync(path.join(dir, ticket!), 'utf8')).toMatch(/^0/);
    const second = await open({ path: dir });
    expect(gateTickets(dir)).toEqual([ticket]); // a second store in the same thread shares it
    await second.close();
    expect(gateTickets(dir)).toEqual([ticket]);
    await conn.close();
    expect(gateTickets(dir)).toEqual([]);
  });

  it("a ticket left saying outside by a live process does not hold anyone up; a dead process's is removed", async () => {
    const dir = await closedDatabase('factlog-gate-');
    const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('close', resolve));
    const idleTicket = path.join(dir, `factlog.gate.${idle.pid}.0`);
    const deadTicket = path.join(dir, `factlog.gate.${dead.pid}.0`);
    fs.writeFileSync(idleTicket, '0');
    fs.writeFileSync(deadTicket, '1');
    try {
      const conn = await open({ path: dir });
      await conn.transact(`[{:db/id "e" :person/name "Ed"}]`);
      expect(idle.exitCode).toBeNull(); // it went through while the idle process was still there
      await conn.close();
      expect(fs.existsSync(idleTicket)).toBe(true);
      expect(fs.existsSync(deadTicket)).toBe(false);
    } finally {
      idle.kill();
    }
  });
});
