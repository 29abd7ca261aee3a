// @ts-check
import tseslint from 'typescript-eslint';

// Pure code (placement, state machines, model) must stay free of I/O so it can be
// tested path by path and property-tested without a clock or a network.
const ioModules = [
  'ioredis',
  'dockerode',
  'fastify',
  'node:fs',
  'node:net',
  'node:http',
  'node:child_process',
  'ws',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'test-artifacts/**',
      'infra/cdk.out/**',
      'images/**/build/**',
      'src/ui/static/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/placement/**', 'src/state-machines/**', 'src/model/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: ioModules.map((name) => ({ name, message: 'pure code does no I/O' })) },
      ],
    },
  },
  {
    files: ['src/node-agent/**', 'src/node-proxy/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/api/**', '**/reconciler/**', '**/store/**', '**/orchestrator/**'],
              message: 'node code never imports orchestrator code',
            },
          ],
        },
      ],
    },
  },
);
