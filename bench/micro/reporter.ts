import { writeFileSync } from "node:fs";
import type { Reporter, TestCase } from "vitest/node";

/**
 * Collects the results that the bench/micro/*.bench.ts tests store in their meta and writes them
 * as JSON to the file named by `BENCH_MICRO_OUTPUT`, for bench/run.mjs.
 */
export default class MicroReporter implements Reporter {
  private readonly results: Record<string, unknown>[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const result = testCase.result();
    this.results.push({
      name: testCase.name,
      state: result.state,
      errors: result.errors?.map((error) => error.message),
      ...testCase.meta(),
    });
  }

  onTestRunEnd(): void {
    const output = process.env.BENCH_MICRO_OUTPUT;
    if (output) writeFileSync(output, JSON.stringify(this.results, null, 2));
  }
}
