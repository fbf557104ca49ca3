// Unsynced marks (src/storage/unsynced-marks.ts): which marks mean "LMDB's file may be torn"
// (left by an earlier boot) and which only "a dead process of this boot did not flush".
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { currentBootId, findMarks, isThisBoot, removeMarks, UnsyncedMark } from '../src/storage/unsynced-marks.js';
import { tempDir } from './helpers/tmp.js';
import { FIXTURES, runFixture } from './helpers/proc.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(String(r.stdout));
}

describe('unsynced marks', () => {
  it("a process's mark holds the boot id, is on disk once ensured and gone once cleared", () => {
    const dir = tempDir();
    const mark = new UnsyncedMark(dir);
    expect(fs.existsSync(mark.file)).toBe(false);
    mark.ensure();
    expect(fs.readFileSync(mark.file, 'utf8')).toBe(currentBootId());
    expect(findMarks(dir)).toEqual({ earlierBoot: [], deadProcesses: [] }); // our own, this boot
    mark.clear();
    expect(fs.existsSync(mark.file)).toBe(false);
  });

  it('one boot id for every process of this boot; boot times match within a minute, not across boots', () => {
    const built = path.join(FIXTURES, '../../dist/src/storage/unsynced-marks.js');
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `import { currentBootId } from ${JSON.stringify(pathToFileURL(built).href)}; process.stdout.write(currentBootId())`],
      { encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe(currentBootId());
    expect(currentBootId()).toBe(currentBootId());
    expect(isThisBoot(currentBootId())).toBe(true);
    expect(isThisBoot('a boot before this one')).toBe(false);
    expect(isThisBoot('', currentBootId())).toBe(false);
    // boot times (BSD, Windows): two processes of one boot may see them a little apart
    expect(isThisBoot('booted-at-1700000000', 'booted-at-1700000001')).toBe(true);
    expect(isThisBoot('booted-at-1700000030', 'booted-at-1699999990')).toBe(true);
    expect(isThisBoot('booted-at-1700000000', 'booted-at-1700003600')).toBe(false);
    // exact ids never match with slack
    expect(isThisBoot('boot-session-A', 'boot-session-B')).toBe(false);
    expect(isThisBoot('booted-at-1700000000', 'boot-session-1700000000')).toBe(false);
  });

  it('tells marks of an earlier boot from marks of dead and live processes of this one', () => {
    const dir = tempDir();
    const write = (pid: number, boot: string) => {
      const file = path.join(dir, `factlog.unsynced.${pid}`);
      fs.writeFileSync(file, boot);
      return file;
    };
    const earlier = write(deadPid(), 'a-boot-before-this-one');
    const empty = write(123456, ''); // not one of ours (ours are renamed into place whole): taken for torn
    const dead = write(deadPid(), currentBootId());
    write(process.ppid, currentBootId()); // alive: left alone
    fs.writeFileSync(path.join(dir, 'factlog.log'), 'not a mark');
    const found = findMarks(dir);
    expect(found.earlierBoot.sort()).toEqual([earlier, empty].sort());
    expect(found.deadProcesses).toEqual([dead]);
    removeMarks(found.deadProcesses);
    expect(fs.existsSync(dead)).toBe(false);
  });

  it("a live process's mark being written or removed meanwhile is never taken for an earlier boot's", async () => {
    const dir = tempDir();
    const churn = runFixture('mark-churn.mjs', [dir]);
    try {
      await churn.waitForLine((line) => line === 'churning');
      let sawMark = 0;
      for (let i = 0; i < 3000; i++) {
        const found = findMarks(dir);
        expect(found).toEqual({ earlierBoot: [], deadProcesses: [] });
        if (fs.readdirSync(dir).some((n) => n.startsWith('factlog.unsynced.'))) sawMark++;
      }
      expect(sawMark).toBeGreaterThan(0); // the child's marks were there to be read
    } finally {
      churn.child.kill('SIGKILL');
      await churn.done;
    }
    // what the killed child left is its own business: a mark of a dead process, or one half made
    const left = findMarks(dir);
    expect(left.earlierBoot).toEqual([]);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('factlog.unsynced-new.'))).toEqual([]);
  });
});
