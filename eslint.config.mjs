// The linter keeps the architecture as docs/architecture.md describes it: no import cycles, imports at the top,
// SQL only in repositories (and migrations), and a console that imports nothing of the server but the Node-free
// shared modules. Formatting is prettier's (`npm run lint` checks both).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Server modules the console may import: plain TypeScript with no Node, Nest or database in them. */
const NODE_FREE_SHARED = [
  'src/common/api-contract.ts',
  'src/common/app-quotas.ts',
  'src/common/file-name.ts',
  'src/common/free-form.ts',
  'src/keys/actions.ts',
  'src/pipelines/profile.ts',
  'src/queues/queue-status.ts',
  'src/tasks/task-catalogue.ts',
  'src/usage/usage-report.ts',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', 'coverage/**', 'docs/**', 'src/common/api-contract.ts', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['tsconfig.json', 'src/console/web/tsconfig.json'], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/first': 'error',
      'import-x/no-duplicates': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='query']",
          message: 'SQL belongs to the repository that owns the table (a *.repository.ts file), see docs/architecture.md.',
        },
      ],
      // Nest injects by constructor parameter properties; empty constructors/classes are module markers
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // the only places SQL is written
    files: ['src/**/*.repository.ts', 'migrations/**/*.ts', 'src/database/**/*.ts', 'src/persistence/**/*.ts', 'src/infrastructure/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // tests read the database directly to check what the api did, and their HTTP client returns untyped JSON
    // (response bodies are asserted with toMatchObject); production code gets neither
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    rules: { 'no-restricted-syntax': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/console/web/**/*.ts', 'src/console/web/**/*.tsx'],
    rules: {
      'no-restricted-syntax': 'off',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './src/console/web',
              from: './src',
              except: ['./console/web', ...NODE_FREE_SHARED.map((path) => `./${path.slice('src/'.length)}`)],
              message: 'the console runs in the browser: it may import only the Node-free shared modules listed in eslint.config.mjs',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
