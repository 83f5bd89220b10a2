import { Logger, type LoggerService } from '@nestjs/common';
import type { ResolvedRelayOptions } from './thread-relay.options.js';

/** Fields of one structured log line; `msg` names the step, the rest are ids and counts. */
export type LogFields = { msg: string } & Record<
  string,
  string | number | boolean | null | undefined
>;

/**
 * The module's logger for one class. Lines are objects so nestjs-pino (or Nest's JSON
 * console logger) keeps the ids as fields. Per-event lines (routed, delivered) go to
 * debug so a busy instance does not log every event at info.
 */
export class RelayLogger {
  private readonly target: LoggerService;

  constructor(
    private readonly context: string,
    custom?: LoggerService,
  ) {
    this.target = custom ?? new Logger(context);
  }

  static for(context: string, options: Pick<ResolvedRelayOptions, 'logger'>): RelayLogger {
    return new RelayLogger(context, options.logger);
  }

  info(fields: LogFields): void {
    this.target.log(fields, this.context);
  }

  warn(fields: LogFields): void {
    this.target.warn(fields, this.context);
  }

  error(fields: LogFields, error?: unknown): void {
    const withReason = error === undefined ? fields : { ...fields, reason: errorText(error) };
    this.target.error(withReason, this.context);
  }

  debug(fields: LogFields): void {
    this.target.debug?.(fields, this.context);
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
