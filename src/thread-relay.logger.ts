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
  /**
   * Nest's `Logger` instance already appends its own context to every call, so passing it
   * again would reach nestjs-pino as (fields, context, context) and the extra one would
   * become a second `msg`. A custom LoggerService gets no such help and needs it passed.
   */
  private readonly contextArgs: [] | [string];

  constructor(context: string, custom?: LoggerService) {
    this.target = custom ?? new Logger(context);
    this.contextArgs = custom ? [context] : [];
  }

  static for(context: string, options: Pick<ResolvedRelayOptions, 'logger'>): RelayLogger {
    return new RelayLogger(context, options.logger);
  }

  info(fields: LogFields): void {
    this.target.log(fields, ...this.contextArgs);
  }

  warn(fields: LogFields): void {
    this.target.warn(fields, ...this.contextArgs);
  }

  error(fields: LogFields, error?: unknown): void {
    const withReason = error === undefined ? fields : { ...fields, reason: errorText(error) };
    this.target.error(withReason, ...this.contextArgs);
  }

  debug(fields: LogFields): void {
    this.target.debug?.(fields, ...this.contextArgs);
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
