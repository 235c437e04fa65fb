/**
 * Counting byte-pair-encoded tokens, fast, from a tiktoken rank file (js-tiktoken's
 * `ranks/o200k_base` and `ranks/cl100k_base` data; their `Tiktoken` class is not used).
 *
 * Why our own: js-tiktoken's encoder keys its 200k-entry rank map by comma-joined byte lists and
 * keeps a byte array per rank — building it takes 1–2 s and ~100 MB of heap for o200k_base — and
 * it compiles its split regex on every `encode()` call (~10 µs even for one token). Counting
 * needs neither the ids nor decoding: ranks keyed by the token's bytes as a binary string (one
 * char per byte, straight from `atob`), the split regex compiled once, and the token count of each
 * split piece remembered (a stream repeats its words) make a one-token delta cost well under a
 * microsecond. The merge rule is tiktoken's own: repeatedly merge the adjacent pair whose bytes
 * have the lowest rank (the leftmost on a tie) until no pair has a rank; tests check the counts
 * against js-tiktoken's `encode()` on real and random text.
 */

/** The shape of a tiktoken rank file as js-tiktoken ships it. */
export interface BpeRankFile {
  readonly pat_str: string;
  /** Lines of `<name> <first rank> <base64 token> <base64 token> …`, ranks consecutive per line. */
  readonly bpe_ranks: string;
}

/** Pieces whose count is remembered, at most; past it the memo starts over (a bounded cache). */
const PIECE_MEMO = 50_000;

/** Builds a counter: `count(text)` is the number of tokens `text` encodes to (special tokens as plain text). */
export function bpeCounter(file: BpeRankFile): (text: string) => number {
  const ranks = new Map<string, number>();
  for (const line of file.bpe_ranks.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const first = Number.parseInt(fields[1]!, 10);
    for (let i = 2; i < fields.length; i++) ranks.set(atob(fields[i]!), first + i - 2);
  }
  const pattern = new RegExp(file.pat_str, 'gu');
  const pieces = new Map<string, number>();
  const encoder = new TextEncoder();
  let scratch = new Uint8Array(256);

  /** The piece's UTF-8 bytes as a binary string (ASCII pieces are their own). */
  const binary = (piece: string): string => {
    // eslint-disable-next-line no-control-regex
    if (/^[\x00-\x7f]*$/.test(piece)) return piece;
    if (scratch.length < piece.length * 3) scratch = new Uint8Array(piece.length * 3);
    const { written } = encoder.encodeInto(piece, scratch);
    let out = '';
    for (let i = 0; i < written; i++) out += String.fromCharCode(scratch[i]!);
    return out;
  };

  /** Tokens of one piece: tiktoken's byte-pair merge over its bytes. */
  const merge = (bytes: string): number => {
    if (ranks.has(bytes)) return 1;
    // starts[i] is where part i begins; part i is bytes[starts[i], starts[i + 1]).
    const starts: number[] = [];
    for (let i = 0; i <= bytes.length; i++) starts.push(i);
    while (starts.length > 2) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i < starts.length - 2; i++) {
        const rank = ranks.get(bytes.slice(starts[i]!, starts[i + 2]!));
        if (rank !== undefined && rank < best) {
          best = rank;
          at = i;
        }
      }
      if (at < 0) break;
      starts.splice(at + 1, 1);
    }
    let tokens = 0;
    for (let i = 0; i < starts.length - 1; i++) if (ranks.has(bytes.slice(starts[i]!, starts[i + 1]!))) tokens++;
    return tokens;
  };

  // The last text counted: operators in one pipe (meter, budget, rateLimit) count the same delta
  // one after another, and the same string object compares equal at once.
  let lastText = '';
  let lastTokens = 0;
  return (text: string): number => {
    if (text === lastText) return lastTokens;
    let tokens = 0;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const piece = match[0];
      if (piece === '') {
        pattern.lastIndex++; // never loops on an empty match
        continue;
      }
      let n = pieces.get(piece);
      if (n === undefined) {
        n = merge(binary(piece));
        if (pieces.size >= PIECE_MEMO) pieces.clear();
        pieces.set(piece, n);
      }
      tokens += n;
    }
    lastText = text;
    lastTokens = tokens;
    return tokens;
  };
}
