/**
 * The results chart: an SVG written by hand (no dependency) from a results JSON.
 *
 *   npx tsx bench/tools/chart.ts                                  bench/results/latest.json → bench/results/chart.svg
 *   npx tsx bench/tools/chart.ts --in bench/results/tmp/x.json --out /tmp/x.svg
 *
 * `bench/run.ts` calls `renderChart()` at the end of every run: a full run writes
 * `bench/results/chart.svg` next to `latest.json`, any other run `bench/results/tmp/<name>.svg`.
 *
 * Two panels, one row per contender (raw, rxllm, openai-node, AI SDK, LangChain):
 * - CPU per streamed token as a multiple of the raw floor measured in the same run, one bar per
 *   stream size (log scale), whiskers = the contender's min–max ÷ the floor's median;
 * - heap per open stream (KB, linear), whiskers = min–max.
 * The caption gives the machine, Node, the date and the number of processes per cell.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** The parts of a results JSON (bench/run.ts) that the chart reads. */
export interface ChartInput {
  readonly quick?: boolean;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly os: string; readonly node: string; readonly date: string; readonly versions?: Readonly<Record<string, string>> };
  readonly sections: {
    readonly parse?: { readonly rows: ReadonlyArray<{ readonly tokens: number; readonly cpu: Readonly<Record<string, Summary>> }> };
    readonly memory?: { readonly options?: { readonly streams?: number }; readonly rows: ReadonlyArray<{ readonly client: string; readonly heapKb: Summary }> };
  };
}

const CONTENDERS: ReadonlyArray<{ readonly id: string; readonly label: string }> = [
  { id: 'raw', label: 'raw (floor)' },
  { id: 'rxllm', label: 'rxllm' },
  { id: 'openai-node', label: 'openai-node' },
  { id: 'ai-sdk', label: 'AI SDK' },
  { id: 'langchain', label: 'LangChain' },
];

/** Bar fills per stream size, smallest first (a light-to-dark ramp of one hue). */
const SIZE_FILLS = ['#a5d8ff', '#4dabf7', '#1864ab'];
const HEAP_FILL = '#4dabf7';
const INK = '#212529';
const MUTED = '#868e96';
const GRID = '#e9ecef';
const HIGHLIGHT = '#fff4e6';
const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (value: number): string => (Math.round(value * 10) / 10).toString();
const finite = (value: number | undefined): value is number => value !== undefined && Number.isFinite(value);

/** `1.13×`, `8.2×`, `54×`. */
function times(ratio: number): string {
  return ratio < 10 ? `${ratio.toFixed(ratio < 2 ? 2 : 1)}×` : `${Math.round(ratio)}×`;
}

/** `1k`, `20k`, `100k`, `1.5M`. */
function sizeLabel(tokens: number): string {
  return tokens >= 1e6 ? `${num(tokens / 1e6)}M` : tokens >= 1000 ? `${num(tokens / 1000)}k` : String(tokens);
}

/** Round `value` up to one of `steps` × a power of ten. */
function niceCeil(value: number, steps: readonly number[] = [1, 2, 5]): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of steps) if (value <= step * power) return step * power;
  return 10 * power;
}

/** The SVG, or undefined when the results have neither a parse nor a memory section. */
export function renderChart(results: ChartInput): string | undefined {
  const parse = results.sections.parse;
  const memory = results.sections.memory;
  if (!parse && !memory) return undefined;

  const sizes = parse ? [...parse.rows].sort((a, b) => a.tokens - b.tokens) : [];
  const floorOf = (row: (typeof sizes)[number]): number => row.cpu['raw']?.median ?? Number.NaN;

  // Layout (px): a label column, then the CPU panel, then the heap panel; one row per contender.
  const width = 980;
  const labelW = 112;
  const cpuX0 = labelW + 8;
  const cpuW = 430;
  const heapX0 = cpuX0 + cpuW + 70;
  const heapW = 270;
  const top = 92;
  const barH = 10;
  const barGap = 2;
  const groupH = Math.max(1, sizes.length) * (barH + barGap) - barGap;
  const rowH = Math.max(groupH, 20) + 16;
  const plotH = CONTENDERS.length * rowH;
  const axisY = top + plotH + 4;
  const height = axisY + 92;

  const out: string[] = [];
  const push = (line: string): void => void out.push(line);
  push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12" fill="${INK}">`);
  push(`<title>rxllm benchmark: CPU per streamed token (× the raw floor) and heap per open stream, rxllm vs raw, openai-node, AI SDK, LangChain</title>`);
  push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  const heading = results.quick ? 'rxllm vs peer SDKs — quick smoke run, not for comparison' : 'rxllm vs peer SDKs, same loopback SSE streams';
  push(`<text x="16" y="26" font-size="16" font-weight="600">${esc(heading)}</text>`);

  // Row bands (rxllm highlighted) and names.
  CONTENDERS.forEach((contender, i) => {
    const y = top + i * rowH;
    if (contender.id === 'rxllm') push(`<rect x="8" y="${y - 6}" width="${width - 16}" height="${rowH - 4}" fill="${HIGHLIGHT}" rx="3"/>`);
    const weight = contender.id === 'rxllm' ? ' font-weight="700"' : '';
    push(`<text x="${labelW}" y="${y + (rowH - 16) / 2 + 4}" text-anchor="end" font-size="13"${weight}>${esc(contender.label)}</text>`);
  });

  // Panel 1: CPU per token, × raw, log scale.
  if (parse && sizes.length > 0) {
    let maxRatio = 2;
    for (const row of sizes) {
      for (const { id } of CONTENDERS) {
        const s = row.cpu[id];
        if (s && finite(s.max / floorOf(row))) maxRatio = Math.max(maxRatio, s.max / floorOf(row), s.median / floorOf(row));
      }
    }
    const lo = 0.5;
    const hi = 10 ** Math.ceil(Math.log10(maxRatio * 1.05));
    const plotW = cpuW - 70; // room for the value labels right of the longest bar
    const x = (ratio: number): number => cpuX0 + ((Math.log10(Math.max(lo, ratio)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
    push(`<text x="${cpuX0}" y="${top - 40}" font-size="13" font-weight="600">CPU per streamed token, × the raw floor (log scale)</text>`);
    // Size legend.
    sizes.forEach((row, j) => {
      const lx = cpuX0 + j * 122;
      push(`<rect x="${lx}" y="${top - 28}" width="12" height="10" fill="${SIZE_FILLS[j % SIZE_FILLS.length]}"/>`);
      push(`<text x="${lx + 16}" y="${top - 19}" font-size="11" fill="${MUTED}">${esc(`${sizeLabel(row.tokens)} tokens/stream`)}</text>`);
    });
    // Grid: 1-2-5 ticks.
    for (let decade = Math.floor(Math.log10(lo)); 10 ** decade <= hi; decade++) {
      for (const step of [1, 2, 5]) {
        const tick = step * 10 ** decade;
        if (tick < lo || tick > hi) continue;
        const tx = x(tick);
        push(`<line x1="${tx.toFixed(1)}" y1="${top - 8}" x2="${tx.toFixed(1)}" y2="${axisY}" stroke="${tick === 1 ? MUTED : GRID}"${tick === 1 ? ' stroke-dasharray="3 3"' : ''}/>`);
        push(`<text x="${tx.toFixed(1)}" y="${axisY + 14}" text-anchor="middle" font-size="11" fill="${MUTED}">${esc(`${tick < 1 ? tick : num(tick)}×`)}</text>`);
      }
    }
    CONTENDERS.forEach((contender, i) => {
      sizes.forEach((row, j) => {
        const y = top + i * rowH + j * (barH + barGap);
        const floor = floorOf(row);
        const s = row.cpu[contender.id];
        if (!s || s.n === 0 || !finite(s.median / floor)) {
          push(`<text x="${cpuX0 + 4}" y="${y + barH - 1}" font-size="10" fill="${MUTED}">${esc(`${sizeLabel(row.tokens)}: not measured`)}</text>`);
          return;
        }
        const ratio = s.median / floor;
        const x0 = x(lo);
        push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${Math.max(1, x(ratio) - x0).toFixed(1)}" height="${barH}" fill="${SIZE_FILLS[j % SIZE_FILLS.length]}"/>`);
        const wMin = x(s.min / floor);
        const wMax = x(s.max / floor);
        if (s.n > 1) push(`<line x1="${wMin.toFixed(1)}" y1="${y + barH / 2}" x2="${wMax.toFixed(1)}" y2="${y + barH / 2}" stroke="${INK}" stroke-width="1"/>`);
        const label = contender.id === 'raw' ? `${s.median.toFixed(2)} µs/token` : `${times(ratio)}  (${s.median.toFixed(s.median < 10 ? 2 : 0)} µs)`;
        push(`<text x="${(Math.max(wMax, x(ratio)) + 5).toFixed(1)}" y="${y + barH - 1}" font-size="10">${esc(label)}</text>`);
      });
    });
    push(`<text x="${cpuX0 + plotW / 2}" y="${axisY + 30}" text-anchor="middle" font-size="11" fill="${MUTED}">client-process CPU (user + system) per text delta ÷ the floor's</text>`);
  }

  // Panel 2: heap per open stream, KB, linear.
  if (memory) {
    const streams = memory.options?.streams;
    const rows = new Map(memory.rows.map((row) => [row.client, row.heapKb]));
    let max = 1;
    for (const s of rows.values()) if (s.n > 0 && finite(s.max)) max = Math.max(max, s.max, s.median);
    const hi = niceCeil(max * 1.02, [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]);
    const plotW = heapW - 60;
    const x = (kb: number): number => heapX0 + (Math.max(0, kb) / hi) * plotW;
    push(`<text x="${heapX0}" y="${top - 40}" font-size="13" font-weight="600">Heap per open stream, KB</text>`);
    push(`<text x="${heapX0}" y="${top - 19}" font-size="11" fill="${MUTED}">${esc(streams ? `${streams.toLocaleString('en-US')} streams open at once, after forced GC` : 'after forced GC')}</text>`);
    const step = niceCeil(hi / 6);
    for (let tick = 0; tick <= hi + 1e-9; tick += step) {
      const tx = x(tick);
      push(`<line x1="${tx.toFixed(1)}" y1="${top - 8}" x2="${tx.toFixed(1)}" y2="${axisY}" stroke="${GRID}"/>`);
      push(`<text x="${tx.toFixed(1)}" y="${axisY + 14}" text-anchor="middle" font-size="11" fill="${MUTED}">${num(tick)}</text>`);
    }
    CONTENDERS.forEach((contender, i) => {
      const s = rows.get(contender.id);
      const y = top + i * rowH + Math.max(0, (groupH - 20) / 2);
      if (!s || s.n === 0 || !finite(s.median)) {
        push(`<text x="${heapX0 + 4}" y="${y + 14}" font-size="10" fill="${MUTED}">n/a</text>`);
        return;
      }
      push(`<rect x="${heapX0}" y="${y}" width="${Math.max(1, x(s.median) - heapX0).toFixed(1)}" height="20" fill="${HEAP_FILL}"/>`);
      if (s.n > 1) push(`<line x1="${x(s.min).toFixed(1)}" y1="${y + 10}" x2="${x(s.max).toFixed(1)}" y2="${y + 10}" stroke="${INK}" stroke-width="1"/>`);
      const floor = rows.get('raw')?.median;
      const ratio = contender.id !== 'raw' && finite(floor) && floor > 0 ? `  (${times(s.median / floor)})` : '';
      push(`<text x="${(Math.max(x(s.max), x(s.median)) + 5).toFixed(1)}" y="${y + 14}" font-size="10">${esc(`${s.median.toFixed(1)} KB${ratio}`)}</text>`);
    });
    push(`<text x="${heapX0 + plotW / 2}" y="${axisY + 30}" text-anchor="middle" font-size="11" fill="${MUTED}">process.memoryUsage().heapUsed, open − before</text>`);
  }

  // Caption: how many processes, and on what.
  const m = results.machine;
  const n = new Set<number>();
  for (const row of sizes) for (const { id } of CONTENDERS) if (row.cpu[id]?.n) n.add(row.cpu[id]!.n);
  for (const row of memory?.rows ?? []) if (row.heapKb.n) n.add(row.heapKb.n);
  const runs = n.size === 0 ? '' : n.size === 1 ? `${[...n][0]}` : `${Math.min(...n)}–${Math.max(...n)}`;
  const v = m.versions ?? {};
  const peers = [['openai', v['openai']], ['ai', v['ai']], ['@langchain/openai', v['@langchain/openai']]]
    .filter(([, version]) => version)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const caption1 = `Bars: median of ${runs} fresh processes per cell; whiskers: min–max. The floor (raw: undici + eventsource-parser + JSON.parse) is measured in the same run.`;
  const caption2 = `${m.cpu}, ${m.cores} cores, ${m.os}, Node ${m.node}; ${m.date.slice(0, 10)}${peers ? `; ${peers}` : ''}.`;
  push(`<text x="16" y="${height - 30}" font-size="11" fill="${INK}">${esc(caption1)}</text>`);
  push(`<text x="16" y="${height - 13}" font-size="11" fill="${MUTED}">${esc(caption2)}</text>`);
  push('</svg>');
  return `${out.join('\n')}\n`;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { values } = parseArgs({ options: { in: { type: 'string' }, out: { type: 'string' } } });
  const input = values.in ?? fileURLToPath(new URL('../results/latest.json', import.meta.url));
  const output = values.out ?? fileURLToPath(new URL('../results/chart.svg', import.meta.url));
  const svg = renderChart(JSON.parse(readFileSync(input, 'utf8')) as ChartInput);
  if (!svg) {
    process.stderr.write(`chart: ${input} has neither a parse nor a memory section\n`);
    process.exit(1);
  }
  writeFileSync(output, svg);
  process.stderr.write(`chart: wrote ${output}\n`);
}
