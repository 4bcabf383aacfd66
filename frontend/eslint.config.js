// ESLint (flat config) over the viewer's sources: the recommended rules, browser globals,
// ES modules. Style is left to the code's own conventions; these rules catch mistakes.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', '../static/'] },
  js.configs.recommended,
  {
    files: ['src/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    rules: {
      'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    files: ['*.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
];
