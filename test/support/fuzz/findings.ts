/**
 * What a fuzz run found: problems grouped by a signature, a few examples each, so a
 * systematic bug is one line; how often each outcome was seen; and the module's error logs.
 */
import type { LoggerService } from '@nestjs/common';
import { describeValue } from './fuzz-input.js';

export class Findings {
  private readonly groups = new Map<string, { count: number; examples: string[] }>();
  /** How often each outcome (`event -> code`, `route -> status code`) was seen. */
  readonly outcomes = new Map<string, number>();

  saw(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** The expected outcomes the fuzz never reached: it did not get past validation there. */
  unreached(expected: string[]): string[] {
    return expected.filter((outcome) => !this.outcomes.has(outcome));
  }

  /** The outcome counts, for `FUZZ_VERBOSE=1`. */
  summary(): string {
    return [...this.outcomes]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([outcome, count]) => `${outcome}: ${count}`)
      .join('\n');
  }

  add(signature: string, example: string): void {
    const group = this.groups.get(signature) ?? { count: 0, examples: [] };
    group.count += 1;
    if (group.examples.length < 3) group.examples.push(example);
    this.groups.set(signature, group);
  }

  /** One entry per signature; `[]` when the fuzz found nothing. */
  report(): string[] {
    return [...this.groups].map(
      ([signature, { count, examples }]) =>
        `${signature} (x${count})\n    ${examples.join('\n    ')}`,
    );
  }
}

/** The module's own log lines; `error(...)` calls are what the fuzz must not cause. */
export class CollectingLogger implements LoggerService {
  readonly errors: string[] = [];
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
  fatal(message: unknown, ...rest: unknown[]): void {
    this.error(message, ...rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push(describeValue([message, ...rest], 1000));
  }
}

/** With `FUZZ_VERBOSE=1`, prints what the fuzz reached. */
export function printOutcomesIfVerbose(title: string, findings: Findings): void {
  if (process.env.FUZZ_VERBOSE) process.stdout.write(`\n${title}:\n${findings.summary()}\n`);
}
