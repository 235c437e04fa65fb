import { defineConfig, type Options } from 'tsup';
import { resolve } from 'node:path';
import type { Plugin } from 'esbuild';

const shared: Options = {
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  target: 'node20',
  external: ['rxjs', 'undici', 'eventsource-parser', 'zod'],
  splitting: false,
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
    entry: { index: 'src/index.ts', operators: 'operators/index.ts', testing: 'src/testing/index.ts' },
  },
  {
    ...shared,
    entry: { 'index.browser': 'src/index.browser.ts' },
    platform: 'browser',
    target: 'es2022',
    esbuildPlugins: [browserTransport],
  },
]);
