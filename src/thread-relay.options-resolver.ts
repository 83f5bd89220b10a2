import { invalidOptionError } from './options/option-name.js';
import { relayOptionsSchema } from './options/relay-options.schema.js';
import type { ResolvedRelayOptions, ThreadRelayModuleOptions } from './thread-relay.options.js';

/** Applies defaults and checks every option; throws `InvalidOptionError` naming the first bad one. */
export function resolveRelayOptions(
  raw: ThreadRelayModuleOptions | undefined,
): ResolvedRelayOptions {
  const result = relayOptionsSchema.safeParse(raw);
  if (!result.success) throw invalidOptionError(result.error);
  return result.data;
}
