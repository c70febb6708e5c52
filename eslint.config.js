// ESLint for the TypeScript tree: typescript-eslint's type-aware rules. The ones that matter most
// here catch promises nobody awaits or handles: the server, worker and webhook code has many
// deliberate fire-and-forget promises, and each must say so with `void`.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'release/**',
      'index.js',
      'index.d.ts',
      'torch/index.js',
      'torch/index.d.ts',
      '**/node_modules/**',
      'target/**',
      '.readme-check-*/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
    },
  },
  {
    // The public API and everything behind it: no `any`, nothing left unused. (Type tests declare
    // values only to take their `typeof`, so __test__ keeps those.)
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
