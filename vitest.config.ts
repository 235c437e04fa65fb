import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^rxllm\/operators$/, replacement: here('./operators/index.ts') },
      { find: /^rxllm\/testing$/, replacement: here('./src/testing/index.ts') },
      { find: /^rxllm\/providers$/, replacement: here('./src/providers/index.ts') },
      { find: /^rxllm$/, replacement: here('./src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
