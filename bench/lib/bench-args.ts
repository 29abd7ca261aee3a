import { parseArgs } from 'node:util';

/**
 * `--quick`: a short smoke run (seconds, not minutes) that exercises every path.
 * `--only <id>`: run one scenario (e.g. to profile it with BENCH_SUT_CPU_PROF_DIR).
 */
export function parseBenchArgs(argv: readonly string[]): { quick: boolean; only: string | undefined } {
  const { values } = parseArgs({
    args: [...argv],
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
    strict: true,
  });
  return { quick: values.quick ?? false, only: values.only };
}
