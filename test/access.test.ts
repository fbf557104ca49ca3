// Tokens: specs of hidden attributes, the visibility they give, hashed storage, and refusals.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keyword } from '../query-lang/edn/types.js';
import { createToken, hashToken, normaliseSpec, readTokens, revokeToken, TokenStore, visibility } from '../src/server/access.js';
import { tempDir } from './helpers/tmp.js';

const kw = (s: string) => Keyword.of(s);

describe('visibility', () => {
  it('hides attributes and namespaces, nothing else', () => {
    const see = visibility({ hide: ['user/password-hash', 'audit/*'] })!;
    expect(see(kw('user/password-hash'))).toBe(false);
    expect(see(kw('audit/when'))).toBe(false);
    expect(see(kw('audit.more/x'))).toBe(true);
    expect(see(kw('user/name'))).toBe(true);
    expect(visibility({ hide: [] })).toBeNull();
  });

  it('only: those, and the database own attributes', () => {
    const see = visibility({ hide: [], only: ['product/*'] })!;
    expect(see(kw('product/sku'))).toBe(true);
    expect(see(kw('db/txInstant'))).toBe(true);
    expect(see(kw('db.install/attribute'))).toBe(true);
    expect(see(kw('user/name'))).toBe(false);
  });

  it('specs: with or without the colon; anything else is refused', () => {
    expect(normaliseSpec(':user/password-hash')).toBe('user/password-hash');
    expect(normaliseSpec('user/*')).toBe('user/*');
    for (const bad of ['user', ':user', '/x', 'a b/c', 'a/b/c']) expect(() => normaliseSpec(bad), bad).toThrow(expect.objectContaining({ code: 'auth/invalid-spec' }));
  });
});

describe('the tokens file', () => {
  it('keeps hashes only, and a store grants by token; unknown, revoked and missing tokens get 401', () => {
    const file = path.join(tempDir(), 'tokens');
    const { token, record } = createToken(file, { role: 'read', hide: [':a/b'], name: 'x' });
    expect(fs.readFileSync(file, 'utf8')).not.toContain(token);
    expect(readTokens(file)[0]!.sha256).toBe(hashToken(token));
    const store = new TokenStore(file);
    expect(store.grantFor(token)).toMatchObject({ role: 'read', tokenId: record.id });
    expect(store.grantFor(token).visible!(kw('a/b'))).toBe(false);
    expect(() => store.grantFor(undefined)).toThrow(expect.objectContaining({ code: 'auth/unauthorized', status: 401 }));
    expect(() => store.grantFor(token + 'x')).toThrow(expect.objectContaining({ code: 'auth/unauthorized' }));
    expect(revokeToken(file, record.id)).toBe(true);
    expect(revokeToken(file, record.id)).toBe(false);
    // a server that had tokens stays locked when the last is revoked or the file removed
    const reloaded = new TokenStore(file);
    (store as unknown as { checkedAt: number }).checkedAt = 0;
    expect(() => store.grantFor(token)).toThrow(expect.objectContaining({ code: 'auth/unauthorized' }));
    fs.rmSync(file);
    (store as unknown as { checkedAt: number }).checkedAt = 0;
    expect(() => store.grantFor(undefined)).toThrow(expect.objectContaining({ code: 'auth/unauthorized' }));
    // one that starts with none is open to all
    expect(reloaded.grantFor(undefined)).toMatchObject({ role: 'write', visible: null });
  });

  it('refuses a restricted write token and an unknown role', () => {
    const file = path.join(tempDir(), 'tokens');
    expect(() => createToken(file, { role: 'write', hide: [':a/b'] })).toThrow(expect.objectContaining({ code: 'auth/restricted-write' }));
    expect(() => createToken(file, { role: 'admin' as 'read' })).toThrow(expect.objectContaining({ code: 'auth/invalid-role' }));
    expect(fs.existsSync(file)).toBe(false);
  });

  it('a file that is not a tokens file is an error, not open access', () => {
    const file = path.join(tempDir(), 'tokens');
    fs.writeFileSync(file, 'garbage');
    expect(() => new TokenStore(file)).toThrow(expect.objectContaining({ code: 'auth/tokens-file' }));
  });
});
