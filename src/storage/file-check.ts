// Checks LMDB's data file before the native library maps it: a file that is not LMDB's, or is
// shorter than its newest meta page says, would crash the process (SIGSEGV, SIGBUS) on first read;
// another program's LMDB file would be written into.
import fs from 'node:fs';
import os from 'node:os';

/** What is wrong with a data file, as the store reports it (a StorageError's code and message). */
export interface FileProblem {
  code: 'storage/not-a-database' | 'storage/damaged-file';
  message: string;
}

// The layout of the LMDB inside lmdb-js 3.x on a 64-bit machine (its liblmdb/mdb.c): every page
// starts with a 24-byte header; pages 0 and 1 are meta pages, the newer (higher txnid) in force.
const PAGE_HEADER = 24;
const FLAGS_AT = 18; // u16
const LOWER_AT = 20; // u16: the end of the node offsets, counted from PAGE_HEADER
const OVERFLOW_PAGES_AT = 20; // u32, on the first page of an overflow run
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_META = 0x08;
const F_BIGDATA = 0x01; // a leaf node whose data sits on overflow pages
// offsets inside a meta page
const MAGIC_AT = PAGE_HEADER;
const VERSION_AT = PAGE_HEADER + 4;
const PAGE_SIZE_AT = PAGE_HEADER + 24; // the free-page tree's md_pad
const FREE_ROOT_AT = PAGE_HEADER + 24 + 40;
const MAIN_ROOT_AT = PAGE_HEADER + 72 + 40;
const LAST_PAGE_AT = PAGE_HEADER + 120;
const TXNID_AT = PAGE_HEADER + 128;
const META_END = PAGE_HEADER + 136;
const LMDB_MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const NO_PAGE = 0xffff_ffff_ffff_ffffn;
/** The layout above is that of little-endian 64-bit machines; elsewhere LMDB is left to check its file. */
const LAYOUT_KNOWN = os.endianness() === 'LE' && process.arch.includes('64');
/** Rechecks when a writer commits while the free pages are being read. */
const ATTEMPTS = 3;

interface MetaPage {
  pageSize: number;
  lastPage: number;
  txnid: bigint;
  freeRoot: bigint;
  mainRoot: bigint;
}

/**
 * undefined when `file` can be handed to LMDB; else why not. A zero-byte file is LMDB's to
 * initialise unless read-only. `names`: the named databases a factlog file may hold.
 */
export function dataFileProblem(file: string, readOnly: boolean, names: readonly string[]): FileProblem | undefined {
  const stat = fs.statSync(file);
  if (stat.isDirectory()) return { code: 'storage/not-a-database', message: `${file} is a directory, not a factlog data file` };
  if (stat.size === 0) {
    return readOnly ? { code: 'storage/not-a-database', message: `${file} is empty: the database was never initialised` } : undefined;
  }
  if (!LAYOUT_KNOWN) return undefined;
  const fd = fs.openSync(file, 'r');
  try {
    for (let attempt = 1; ; attempt++) {
      const found = checkOnce(fd, file, new Set(names));
      // a live writer grows the file and reuses free pages: read again what it may have changed
      if (found.problem === undefined || found.txnid === undefined || attempt === ATTEMPTS || newestTxnid(fd) === found.txnid) return found.problem;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function checkOnce(fd: number, file: string, names: Set<string>): { problem?: FileProblem; txnid?: bigint } {
  const head = readAt(fd, 0, META_END);
  if (head.length < MAGIC_AT + 4 || head.readUInt32LE(MAGIC_AT) !== LMDB_MAGIC) {
    return { problem: { code: 'storage/not-a-database', message: `${file} is not an LMDB file written by factlog` } };
  }
  const damaged = (why: string): { problem: FileProblem } => ({ problem: { code: 'storage/damaged-file', message: `${file} is damaged: ${why}` } });
  if (head.length < META_END) return damaged(`it ends inside its header (${head.length} bytes)`);
  const version = head.readUInt32LE(VERSION_AT) & 0xffff;
  if (version !== DATA_VERSION) {
    return { problem: { code: 'storage/not-a-database', message: `${file} is an LMDB file of data version ${version}, not one factlog reads (${DATA_VERSION})` } };
  }
  const first = metaPage(head);
  if (!first) return damaged('its first meta page is not valid');
  const second = metaPage(readAt(fd, first.pageSize, META_END));
  if (!second) return damaged('its second meta page is missing or not valid');
  const newest = second.txnid > first.txnid ? second : first;
  const size = fs.fstatSync(fd).size;
  const filePages = Math.floor(size / newest.pageSize);
  const needed = (newest.lastPage + 1) * newest.pageSize;
  const txnid = newest.txnid;
  // LMDB may leave pages it freed in the commit that allocated them unwritten at the end of the
  // file: shorter than the header says is damage only when a missing page is not a free one
  const free = size >= needed ? new Set<number>() : freePages(fd, newest, filePages);
  const missing = free === undefined ? filePages : firstMissing(filePages, newest.lastPage, free);
  if (missing !== undefined) {
    return { ...damaged(`it is shorter than its header says (${size} of ${needed} bytes; page ${missing} is missing)`), txnid };
  }
  const found = namedDatabases(fd, newest, filePages);
  if (found === undefined) return { ...damaged('its table of named databases does not read'), txnid };
  const foreign = found.filter((name) => !names.has(name));
  if (foreign.length > 0) {
    const listed = foreign
      .slice(0, 3)
      .map((name) => JSON.stringify(name))
      .join(', ');
    return { problem: { code: 'storage/not-a-database', message: `${file} is an LMDB file of another program (it holds ${listed}), not a factlog database` }, txnid };
  }
  return {};
}

function metaPage(page: Buffer): MetaPage | undefined {
  if (page.length < META_END || !(page.readUInt16LE(FLAGS_AT) & P_META) || page.readUInt32LE(MAGIC_AT) !== LMDB_MAGIC) return undefined;
  const pageSize = page.readUInt32LE(PAGE_SIZE_AT);
  const lastPage = page.readBigUInt64LE(LAST_PAGE_AT);
  const isPowerOfTwo = (pageSize & (pageSize - 1)) === 0;
  if (!isPowerOfTwo || pageSize < 256 || pageSize > 65536 || lastPage < 1n || lastPage > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { pageSize, lastPage: Number(lastPage), txnid: page.readBigUInt64LE(TXNID_AT), freeRoot: page.readBigUInt64LE(FREE_ROOT_AT), mainRoot: page.readBigUInt64LE(MAIN_ROOT_AT) };
}

/** The txnid of the newest meta page of LMDB's data `file`: what its last commit wrote; undefined where its layout is not the one above. */
export function newestCommittedTxnid(file: string): bigint | undefined {
  if (!LAYOUT_KNOWN) return undefined;
  const fd = fs.openSync(file, 'r'); // LMDB locks only its lock file, so closing this one is harmless
  try {
    return newestTxnid(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function newestTxnid(fd: number): bigint | undefined {
  const first = metaPage(readAt(fd, 0, META_END));
  const second = first && metaPage(readAt(fd, first.pageSize, META_END));
  return first && second ? (second.txnid > first.txnid ? second.txnid : first.txnid) : undefined;
}

/** The first page from `from` to `last` not in `free`, or undefined. */
function firstMissing(from: number, last: number, free: Set<number>): number | undefined {
  for (let page = from; page <= last; page++) if (!free.has(page)) return page;
  return undefined;
}

/**
 * The pages past the end of the file that LMDB's free-page tree lists, read without mapping the
 * file; undefined when the tree itself reaches past the end of the file or does not parse.
 */
function freePages(fd: number, meta: MetaPage, filePages: number): Set<number> | undefined {
  const free = new Set<number>();
  const whole = eachLeafNode(fd, meta.freeRoot, meta.pageSize, filePages, (page, node) => {
    const ids = leafData(fd, page, node, meta.pageSize, filePages);
    return ids !== undefined && addPageList(ids, filePages, free);
  });
  return whole ? free : undefined;
}

/** The names in LMDB's main database (the named databases' table), or undefined when it does not read. */
function namedDatabases(fd: number, meta: MetaPage, filePages: number): string[] | undefined {
  const names: string[] = [];
  const whole = eachLeafNode(fd, meta.mainRoot, meta.pageSize, filePages, (page, node) => {
    const keyAt = node + 8;
    const keySize = page.readUInt16LE(node + 6);
    if (keyAt + keySize > page.length) return false;
    // lmdb-js names a database with its terminating NUL
    const withNul = keySize > 0 && page[keyAt + keySize - 1] === 0;
    names.push(page.toString('utf8', keyAt, keyAt + keySize - (withNul ? 1 : 0)));
    return true;
  });
  return whole ? names : undefined;
}

/**
 * Visit every leaf node of the B-tree at `root`; false when a page lies past the file's last whole
 * page, is not a branch or leaf page, or `visit` returns false.
 */
function eachLeafNode(fd: number, root: bigint, pageSize: number, filePages: number, visit: (page: Buffer, node: number) => boolean): boolean {
  if (root === NO_PAGE) return true;
  const pending = [Number(root)];
  const seen = new Set<number>();
  while (pending.length > 0) {
    const pageNo = pending.pop()!;
    if (pageNo >= filePages || seen.has(pageNo)) return false;
    seen.add(pageNo);
    const page = readAt(fd, pageNo * pageSize, pageSize);
    const flags = page.readUInt16LE(FLAGS_AT);
    const nodes = nodeOffsets(page);
    if (nodes === undefined || !(flags & (P_BRANCH | P_LEAF))) return false;
    for (const node of nodes) {
      if (flags & P_BRANCH) pending.push(page.readUInt16LE(node) + page.readUInt16LE(node + 2) * 2 ** 16 + page.readUInt16LE(node + 4) * 2 ** 32);
      else if (!visit(page, node)) return false;
    }
  }
  return true;
}

/** Where a page's nodes start, or undefined when its offsets point outside it. */
function nodeOffsets(page: Buffer): number[] | undefined {
  const count = page.readUInt16LE(LOWER_AT) >> 1;
  if (PAGE_HEADER + 2 * count > page.length) return undefined;
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const node = PAGE_HEADER + page.readUInt16LE(PAGE_HEADER + 2 * i);
    if (node + 8 > page.length) return undefined;
    offsets.push(node);
  }
  return offsets;
}

/** A leaf node's data: in the page after its key, or on overflow pages. */
function leafData(fd: number, page: Buffer, node: number, pageSize: number, filePages: number): Buffer | undefined {
  const size = page.readUInt16LE(node) + page.readUInt16LE(node + 2) * 2 ** 16;
  const dataAt = node + 8 + page.readUInt16LE(node + 6);
  if (!(page.readUInt16LE(node + 4) & F_BIGDATA)) return dataAt + size <= page.length ? page.subarray(dataAt, dataAt + size) : undefined;
  if (dataAt + 8 > page.length) return undefined;
  const first = Number(page.readBigUInt64LE(dataAt));
  const head = readAt(fd, first * pageSize, PAGE_HEADER);
  if (head.length < PAGE_HEADER || !(head.readUInt16LE(FLAGS_AT) & P_OVERFLOW)) return undefined;
  if (first + head.readUInt32LE(OVERFLOW_PAGES_AT) > filePages) return undefined;
  return readAt(fd, first * pageSize + PAGE_HEADER, size);
}

/**
 * Add a free-page list's pages from `from` on to `free`: a count, then page numbers, where
 * lmdb-js's LMDB also writes 0 (an unused slot) and a negative n followed by p (the n pages from p on).
 */
function addPageList(ids: Buffer, from: number, free: Set<number>): boolean {
  if (ids.length < 8) return ids.length === 0;
  const count = Number(ids.readBigUInt64LE(0));
  if ((count + 1) * 8 > ids.length) return false;
  for (let i = 1; i <= count; i++) {
    const id = ids.readBigInt64LE(i * 8);
    if (id > 0n && Number(id) >= from) free.add(Number(id));
    else if (id < 0n && i < count) {
      const start = Number(ids.readBigInt64LE(++i * 8));
      for (let page = Math.max(start, from); page < start + Number(-id); page++) free.add(page);
    }
  }
  return true;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = fs.readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, read);
}
