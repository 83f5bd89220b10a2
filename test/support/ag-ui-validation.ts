import { verifyEvents } from '@ag-ui/client';
import { EventSchemas } from '@ag-ui/core/schemas';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';

/**
 * Each event against AG-UI's official schemas, then the whole stream through
 * `@ag-ui/client`'s verifier, which refuses what a strict AG-UI client refuses (a message
 * outside a run, a run started twice, ...). Rejects with the first problem found.
 */
export async function expectValidAgUi(events: readonly object[]): Promise<void> {
  for (const event of events) {
    const parsed = EventSchemas.safeParse(event);
    expect({ event, issues: parsed.success ? [] : parsed.error.issues }).toEqual({
      event,
      issues: [],
    });
  }
  // @ag-ui/client brings its own copy of rxjs: its operator is applied as a plain function.
  const verify = verifyEvents(undefined) as unknown as (
    source: Observable<object>,
  ) => Observable<object>;
  await lastValueFrom(verify(from(events)).pipe(toArray()));
}
