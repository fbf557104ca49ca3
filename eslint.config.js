// eslint over every source, test, benchmark, script and example: @eslint/js and typescript-eslint's
// recommended rules, less the few that would need broad changes (each says why).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node's globals that the plain JavaScript files (bin/, scripts/, examples/, fixtures) use. */
const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'performance', 'URL', 'AbortController'].map((name) => [name, 'readonly']),
);

export default tseslint.config({ ignores: ['dist/', 'node_modules/'] }, js.configs.recommended, tseslint.configs.recommended, {
  languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: nodeGlobals },
  rules: {
    // lmdb-js's options and values are untyped: `any` marks where they cross into our types
    '@typescript-eslint/no-explicit-any': 'off',
    // binary key encodings and terminal output: control characters are what these regexes match
    'no-control-regex': 'off',
    // `for (const _ of it) n++` counts; `_` names what is deliberately not read
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    // `cond ? a() : b()` and `x && f()` as statements are the house style for one-line branches
    '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
  },
});
