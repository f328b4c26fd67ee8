/*
 * fuzz-budget — the shared budget of the property-based fuzz tests in test/security/.
 *
 * Every fuzz test takes its seed and number of runs from here, so a CI run is short and
 * reproducible (fixed seed, small budget) and a release run is one environment variable
 * away: POSTERN_FUZZ_RUNS=20000 (runs per property) and optionally POSTERN_FUZZ_SEED.
 * Also: cutting input into random chunkings, and a guard that turns a hang into a failure.
 *
 * Talks to: nothing. Security: test-only.
 */
import fc from "fast-check";

const envRuns = Number.parseInt(process.env.POSTERN_FUZZ_RUNS ?? "", 10);
const envSeed = Number.parseInt(process.env.POSTERN_FUZZ_SEED ?? "", 10);

/** The seed of every property (fixed, so a failure in CI reproduces locally). */
export const FUZZ_SEED = Number.isFinite(envSeed) ? envSeed : 0x5e_c0_12;

/** fast-check parameters: `ciRuns` runs by default, POSTERN_FUZZ_RUNS when set. */
export function budget(ciRuns: number): { seed: number; numRuns: number; endOnFailure: true } {
  const numRuns = Number.isFinite(envRuns) && envRuns > 0 ? envRuns : ciRuns;
  return { seed: FUZZ_SEED, numRuns, endOnFailure: true };
}

/** Cut points for splitting an input into chunks (empty: fed at once). */
export const cutPoints: fc.Arbitrary<number[]> = fc.array(fc.nat({ max: 4096 }), { maxLength: 12 });

/** The input cut at the given points (points beyond the end are ignored). */
export function chunked(input: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) {
      out.push(input.subarray(at, p));
      at = p;
    }
  }
  if (at < input.length) out.push(input.subarray(at));
  return out;
}

/** Each byte on its own. */
export function bytewise(input: Buffer): Buffer[] {
  return [...input].map((b) => Buffer.from([b]));
}

/** Resolves with the promise's value, or rejects when it takes longer than ms (a hang). */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Hostile text pieces that parsers of mail protocols commonly trip over. */
export const HOSTILE_PIECES = [
  "\r\n",
  "\n",
  "\r",
  "\0",
  "\r\n.\r\n",
  "\n.\n",
  ".",
  "..",
  " ",
  "\t",
  "<",
  ">",
  '"',
  "\\",
  "@",
  "%",
  "!",
  ":",
  "[",
  "]",
  "(",
  ")",
  "{",
  "}",
  "{5}",
  "{4294967296}",
  "{99999999999999999999+}",
  "~{3}",
  "=?utf-8?b?",
  "?=",
  "../",
  "*",
  "%s%n",
  "\u00e9",
  "\u{1F600}",
  "\xff",
  "AAAA",
  "0",
  "-1",
  "4294967296",
] as const;

/** Text made of hostile pieces and arbitrary characters. */
export function hostileText(maxLength = 20): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof(fc.constantFrom(...HOSTILE_PIECES), fc.string({ maxLength: 6 })), { maxLength })
    .map((parts) => parts.join(""));
}
