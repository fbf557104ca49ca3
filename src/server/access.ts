// Who may do what: tokens with a role (read or write), optionally restricted to some attributes,
// kept hashed in a file beside the database (factlog.tokens) and checked on every request.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Keyword } from '../../query-lang/edn/types.js';
import type { Datom } from '../db/api.js';
import type { Db } from '../db/db.js';
import { ServerError } from './errors.js';

export const TOKENS_FILE = 'factlog.tokens';

export type Role = 'read' | 'write';

export interface TokenRecord {
  id: string;
  name?: string;
  role: Role;
  /** Attributes (`:user/password-hash`) or namespaces (`:user/*`) this token does not see. */
  hide: string[];
  /** When given, the only attributes or namespaces this token sees (besides the db's own). */
  only?: string[];
  /** SHA-256 of the token, hex: the token itself is shown once, at creation, and never stored. */
  sha256: string;
  created: string;
}

/** What a request may do: its role, and which attributes it sees. */
export interface Grant {
  role: Role;
  /** Null: it sees everything. */
  visible: ((ident: Keyword | null) => boolean) | null;
  tokenId: string | null;
  /** What `visible` was made of, for a query worker to make it again (absent: it sees everything). */
  access?: Pick<TokenRecord, 'hide' | 'only'>;
}

export const OPEN_GRANT: Grant = { role: 'write', visible: null, tokenId: null };

const SPEC_RE = /^:?[^\s:/][^\s/]*\/(\*|[^\s/]+)$/;

/** `:user/password-hash` or `user/*` as the form kept in the file (no colon). */
export function normaliseSpec(spec: string): string {
  const s = spec.trim();
  if (!SPEC_RE.test(s)) throw new ServerError('auth/invalid-spec', `${JSON.stringify(spec)} is neither an attribute (:ns/name) nor a namespace (:ns/*)`, 400);
  return s.startsWith(':') ? s.slice(1) : s;
}

function matches(spec: string, fqn: string): boolean {
  if (spec.endsWith('/*')) return fqn.slice(0, fqn.lastIndexOf('/')) === spec.slice(0, -2);
  return spec === fqn;
}

/** The database's own attributes (:db/ident, :db/txInstant, :db.install/...) stay visible to an `only` token. */
function isSystem(fqn: string): boolean {
  return fqn.startsWith('db/') || fqn.startsWith('db.') || fqn.startsWith('fressian/');
}

export function visibility(record: Pick<TokenRecord, 'hide' | 'only'>): ((ident: Keyword | null) => boolean) | null {
  const { hide } = record;
  const only = record.only ?? null;
  if (hide.length === 0 && only === null) return null;
  return (ident) => {
    if (ident === null) return only === null;
    const fqn = ident.fqn;
    if (hide.some((s) => matches(s, fqn))) return false;
    return only === null || isSystem(fqn) || only.some((s) => matches(s, fqn));
  };
}

/**
 * The database as a restricted token sees it: the hidden attributes' datoms, and the attribute
 * entities themselves, do not exist in it (queries, rules, pull, entity, datoms all read through it).
 */
export function restrict(db: Db, grant: Grant): Db {
  const keepDatom = datomKeeper(db, grant);
  return keepDatom ? db.filter((_db, d) => keepDatom(d)) : db;
}

/** A datom test for the log and the feed (whose datoms no Db filter reads), or null when all are seen. */
export function datomKeeper(db: Db, grant: Grant): ((d: Datom) => boolean) | null {
  const visible = grant.visible;
  if (!visible) return null;
  const seen = new Map<number, boolean>();
  const attrVisible = (a: number): boolean => {
    let ok = seen.get(a);
    if (ok === undefined) {
      const ident = db.ident(a);
      // an attribute's own entity is hidden with it; other entities are not attributes
      ok = db.attr(a) === undefined && ident === null ? true : visible(ident);
      seen.set(a, ok);
    }
    return ok;
  };
  return (d) => attrVisible(d.a) && (db.attr(d.e) === undefined || attrVisible(d.e));
}

/** Tokens of a server, read from their file again when it changes. */
export class TokenStore {
  private records: TokenRecord[] = [];
  private byHash = new Map<string, TokenRecord>();
  private stamp = '';
  private checkedAt = 0;
  /** Once a server has had tokens, revoking them all (or removing the file) locks it, never opens it. */
  private everHadTokens = false;

  constructor(readonly file: string) {
    this.reload();
  }

  get size(): number {
    this.refresh();
    return this.records.length;
  }

  /** The grant of an Authorization header's token; 401 without a valid one (when there are tokens at all). */
  grantFor(token: string | undefined): Grant {
    this.refresh();
    if (this.records.length === 0 && !this.everHadTokens) return OPEN_GRANT;
    if (!token) throw new ServerError('auth/unauthorized', 'this server needs a token: Authorization: Bearer TOKEN', 401);
    const record = this.byHash.get(hashToken(token));
    if (!record) throw new ServerError('auth/unauthorized', 'the token is not valid here (unknown or revoked)', 401);
    return { role: record.role, visible: visibility(record), tokenId: record.id, access: { hide: record.hide, only: record.only } };
  }

  /** Look at the file at most once a second: tokens made or revoked by `factlog token` apply within a second. */
  private refresh(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    if (fileStamp(this.file) !== this.stamp) this.reload();
  }

  private reload(): void {
    this.stamp = fileStamp(this.file);
    this.records = readTokens(this.file);
    this.byHash = new Map(this.records.map((r) => [r.sha256, r]));
    this.everHadTokens ||= this.records.length > 0;
  }
}

function fileStamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'none';
  }
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export function readTokens(file: string): TokenRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as { tokens?: TokenRecord[] };
    if (!Array.isArray(parsed.tokens)) throw new Error('no "tokens" array');
    return parsed.tokens;
  } catch (err) {
    throw new ServerError('auth/tokens-file', `${file} is not a tokens file: ${(err as Error).message}`, 500);
  }
}

/** Write the records in place of the file, whole or not at all (a temp file renamed), readable by its owner only. */
export function writeTokens(file: string, records: TokenRecord[]): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temp, JSON.stringify({ tokens: records }, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(temp, file);
}

export interface NewToken {
  role: Role;
  hide?: string[];
  only?: string[];
  name?: string;
}

/** Add a token to the file; returns the token itself (shown once) and its record. */
export function createToken(file: string, spec: NewToken): { token: string; record: TokenRecord } {
  if (spec.role !== 'read' && spec.role !== 'write') throw new ServerError('auth/invalid-role', `role must be read or write, not ${JSON.stringify(spec.role)}`, 400);
  const hide = (spec.hide ?? []).map(normaliseSpec);
  const only = spec.only?.map(normaliseSpec);
  if (spec.role === 'write' && (hide.length > 0 || only !== undefined)) {
    // a writer could assert and retract what it cannot see: a restricted token only reads
    throw new ServerError('auth/restricted-write', 'a token restricted to some attributes can only read (--role read)', 400);
  }
  const token = 'fl_' + crypto.randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id: crypto.randomBytes(4).toString('hex'),
    ...(spec.name ? { name: spec.name } : {}),
    role: spec.role,
    hide,
    ...(only ? { only } : {}),
    sha256: hashToken(token),
    created: new Date().toISOString(),
  };
  writeTokens(file, [...readTokens(file), record]);
  return { token, record };
}

/** Remove a token by its id; false when there is none. */
export function revokeToken(file: string, id: string): boolean {
  const records = readTokens(file);
  const kept = records.filter((r) => r.id !== id);
  if (kept.length === records.length) return false;
  writeTokens(file, kept);
  return true;
}
