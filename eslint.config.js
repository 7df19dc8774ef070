// ESLint (flat config) with typescript-eslint's recommended rules, without type information (fast on 2 cores), and
// the layering of docs/architecture.md as import restrictions: each folder imports only the layers below it.
// Formatting is Prettier's (.prettierrc.json, checked by `npm run lint`); ESLint adds only max-len for comments.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders of src/, lowest layer first; a folder may import only the folders listed before it in its entry. */
const LAYERS = {
  // Leaf helpers with no dependency (e.g. half-float decoding shared by onnx and store): every layer may import them.
  core: [],
  platform: ['core'],
  data: ['core'],
  store: ['core'],
  onnx: ['platform', 'core'],
  models: ['onnx', 'platform', 'core'],
  linalg: ['platform', 'core'],
  influence: ['data', 'store', 'onnx', 'linalg', 'platform', 'core'],
  train: ['data', 'store', 'onnx', 'models', 'linalg', 'platform', 'core'],
  // Evaluation of influence against retraining: the engine's results judged by the training loop's retrains.
  eval: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'platform', 'core'],
  // The teaching lab's models and its update (train, the engine's runs, exact, leave-one-out); its worker: worker/.
  teach: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'eval', 'platform', 'core'],
  app: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'eval', 'platform', 'core'],
  worker: [
    'data',
    'store',
    'onnx',
    'models',
    'linalg',
    'influence',
    'train',
    'eval',
    'teach',
    'app',
    'platform',
    'core',
  ],
  cli: ['data', 'store', 'onnx', 'models', 'linalg', 'influence', 'train', 'eval', 'app', 'platform', 'core'],
  // The UI talks to the workers through their clients and protocol types (docs/architecture.md); the lab page also
  // reads teach's plain-data modules (TEACH_ENGINE_SIDE below keeps the engine side out of its main thread).
  ui: ['worker', 'teach', 'core'],
};

/**
 * Modules of src/teach that run the engine or the gradient code: only the lab worker (src/worker/lab.worker.ts) may
 * import them, so the lab page's main-thread bundle carries neither (tests/e2e/teach-bundle.test.ts checks the build).
 */
const TEACH_ENGINE_SIDE = ['lab', 'lm', 'lm-lab', 'fit', 'source', 'batch'];

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

const teachMainThread = {
  files: ['src/ui/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...Object.keys(LAYERS)
            .filter((other) => !LAYERS.ui.includes(other) && other !== 'ui')
            .map((other) => ({
              group: [`../${other}`, `../${other}/*`, `../../${other}`, `../../${other}/*`, `../../../${other}/*`],
              message: `src/ui may not import src/${other}: dependencies point one way (docs/architecture.md).`,
            })),
          {
            group: TEACH_ENGINE_SIDE.flatMap((m) => [`../teach/${m}`, `../../teach/${m}`, `../../../teach/${m}`]),
            message:
              'the page may import only plain-data modules of src/teach (results, state, lm-data, …); the engine side runs in src/worker/lab.worker.ts.',
          },
        ],
      },
    ],
  },
};

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
      // Prettier wraps code at 120; this catches what it cannot (long comments). Messages in strings and template
      // literals stay whole so that they can be searched for.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
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
  // After the per-folder rule for ui, which it replaces (flat config: the later rule wins), adding the teach limit.
  teachMainThread,
);
