/**
 * A benchmark section (`parse`, `ttft`, `throughput`, `memory`, `abort`, `cache`). `bench/run.ts`
 * runs the selected sections in order against one shared server process and gathers their results
 * into `bench/results/latest.json` and `latest.md` (a full run) or `bench/results/tmp/`.
 */
import type { BenchServer } from '../server';

export interface SectionContext {
  readonly server: BenchServer;
  readonly quick: boolean;
  /** Progress lines (stderr), so stdout stays clean. */
  log(line: string): void;
}

export interface SectionResult {
  /** Goes under `sections[<name>]` in latest.json. */
  readonly json: unknown;
  /** A markdown block (heading included) for latest.md, also printed to stdout. */
  readonly markdown: string;
  /** Hard failures (wrong token counts, crashed runs). Any failure makes the run exit non-zero. */
  readonly failures: readonly string[];
}

export interface BenchSection {
  readonly name: string;
  readonly description: string;
  run(context: SectionContext): Promise<SectionResult>;
}
