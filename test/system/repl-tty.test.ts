// The REPL on a real terminal: `script` (util-linux, in every Debian base system) gives it a
// pseudo-terminal, so the prompt, continuation prompt, Ctrl-C, Tab completion and Ctrl-D are the
// ones a user gets. Input is sent a step at a time, each after the prompt it answers appears.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { BIN, cleanupTempDirs, tempDir } from '../helpers/cli.js';

afterAll(cleanupTempDirs);

const hasScript = spawnSync('script', ['--version']).status === 0;

/** Output with terminal control sequences removed. */
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

describe.skipIf(!hasScript)('factlog repl on a terminal', () => {
  let db: string;
  let home: string;

  beforeAll(async () => {
    home = tempDir('factlog-tty-');
    db = path.join(home, 'db');
    const conn = await open({ path: db });
    await conn.transact(`[{:db/ident :item/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T00:00:00Z"}]`);
    await conn.transact(`[{:item/name "apple"} {:db/id "datomic.tx" :db/txInstant #inst "2025-02-01T00:00:00Z"}]`);
    await conn.transact(`[{:item/name "pear"} {:db/id "datomic.tx" :db/txInstant #inst "2025-03-01T00:00:00Z"}]`);
    await conn.close();
  });

  it('prompts, continues a form over lines, cancels with Ctrl-C, completes with Tab, switches time, exits with Ctrl-D', async () => {
    const command = `"${process.execPath}" "${BIN}" repl --db "${db}"`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, FACTLOG_HISTORY: path.join(home, 'history'), TERM: 'xterm', COLUMNS: '120' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    /** Wait until the output after `from` matches, then return the position after the match. */
    const waitFor = async (re: RegExp, from: number): Promise<number> => {
      for (let i = 0; i < 200; i++) {
        const m = re.exec(plain(out).slice(from));
        if (m) return from + m.index + m[0].length;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${re} in:\n${plain(out).slice(from)}`);
    };
    const send = (s: string) => child.stdin.write(s);

    let at = await waitFor(/factlog@t3> /, 0);
    send('[:find ?n :where\r');
    at = await waitFor(/\.+> /, at); // the continuation prompt
    send(' [_ :item/name ?n]]\r');
    at = await waitFor(/2 rows/, at);
    expect(plain(out)).toMatch(/apple[\s\S]*pear|pear[\s\S]*apple/);

    send('[:find ?x :where [?x :item/nam');
    await new Promise((r) => setTimeout(r, 200));
    send('\x03'); // Ctrl-C drops the unfinished form
    at = await waitFor(/factlog@t3> /, at);

    send('.sch\t'); // Tab completes the dot-command
    at = await waitFor(/\.schema/, at);
    send('\r');
    at = await waitFor(/:item\/name/, at);

    send('.as-of 2025-02-15\r');
    at = await waitFor(/factlog@t2 as-of> /, at);
    send('[:find [?n ...] :where [_ :item/name ?n]]\r');
    at = await waitFor(/apple/, at);
    expect(plain(out).slice(at)).not.toContain('pear');

    send('\x04'); // Ctrl-D leaves
    expect(await exited).toBe(0);
    expect(plain(out)).not.toMatch(/error/i);
    // a terminal session keeps its history, one line per entry
    const history = fs.readFileSync(path.join(home, 'history'), 'utf8').trim().split('\n');
    expect(history).toEqual(['[:find ?n :where [_ :item/name ?n]]', '.schema', '.as-of 2025-02-15', '[:find [?n ...] :where [_ :item/name ?n]]']);
  }, 60_000);
});
