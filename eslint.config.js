// ESLint (flat config) with typescript-eslint's recommended rules, without type information (fast on 2 cores), and
// the layering of docs/architecture.md as import restrictions: each folder imports only the layers below it.
// Formatting is Prettier's (.prettierrc.json), not ESLint's: no style rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders of src/, lowest layer first; a folder may import only the folders listed before it in its entry. */
const LAYERS = {
  platform: [],
  data: [],
  store: [],
  onnx: ['platform'],
  models: ['onnx', 'platform'],
  linalg: ['platform'],
  influence: ['data', 'store', 'onnx', 'linalg', 'platform'],
  train: ['data', 'store', 'onnx', 'models', 'linalg', 'platform'],
  app: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'platform'],
  worker: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'app', 'platform'],
  cli: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'app', 'platform'],
  // The UI talks to the worker through its client and protocol types only (DESIGN.md §2).
  ui: ['worker'],
};

const layering = Object.entries(LAYERS).map(([folder, allowed]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: Object.keys(LAYERS)
          .filter((other) => other !== folder && !allowed.includes(other))
          .map((other) => ({
            group: [`../${other}`, `../${other}/*`, `../../${other}`, `../../${other}/*`, `../../../${other}/*`],
            message: `src/${folder} may not import src/${other}: dependencies point one way (docs/architecture.md).`,
          })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'public/**', 'coverage/**', 'bench/**/*.json'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    // Node scripts in plain JavaScript.
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // Tests forge malformed inputs on purpose (bundles, old database records): `any` is how they say so.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...layering,
);
