import { defineConfig, type Options } from 'tsup';
import { resolve } from 'node:path';
import type { Plugin } from 'esbuild';

/**
 * Two module graphs, each split into shared chunks so that every source module is bundled once
 * per graph (`test/build/dist.test.ts` checks it): the Node graph (undici transport) and the
 * browser graph (fetch transport, no node: built-ins). Every entry has both a Node and a browser
 * file, so a browser bundler that resolves `rxllm` and `rxllm/operators` with the `browser`
 * condition gets one copy of the core too — one error class, one tokenizer cache, one secret registry.
 */
const shared: Options = {
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  external: ['rxjs', 'undici', 'eventsource-parser', 'zod', /^js-tiktoken/],
  splitting: true,
  treeshake: true,
};

/** The browser build swaps the undici transport for fetch, so no node: built-in is pulled in. */
const browserTransport: Plugin = {
  name: 'rxllm-browser-transport',
  setup(build) {
    build.onResolve({ filter: /\/default-transport$/ }, (args) => ({
      path: `${resolve(args.resolveDir, args.path)}.browser.ts`,
    }));
  },
};

export default defineConfig([
  {
    ...shared,
    target: 'node20',
    platform: 'node',
    entry: {
      index: 'src/index.ts',
      operators: 'operators/index.ts',
      providers: 'src/providers/index.ts',
      testing: 'src/testing/index.ts',
    },
  },
  {
    ...shared,
    outDir: 'dist/browser',
    platform: 'browser',
    target: 'es2022',
    entry: { index: 'src/index.browser.ts', operators: 'operators/index.ts', providers: 'src/providers/index.ts' },
    esbuildPlugins: [browserTransport],
  },
]);
