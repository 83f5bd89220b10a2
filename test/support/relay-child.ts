/**
 * A relay instance in a process of its own, for tests that kill an instance the hard way.
 * Compiled and started by `relay-child-process.ts`; options come as JSON in
 * RELAY_CHILD_OPTIONS. Prints `RELAY_CHILD_READY <url>` once listening, then stays up until
 * it is killed or its parent goes away (stdin closes).
 */
import 'reflect-metadata';
import { startRelayApp, type TestRelayOptions } from './relay-app.js';

const options = JSON.parse(process.env.RELAY_CHILD_OPTIONS ?? '{}') as TestRelayOptions;
const relay = await startRelayApp(options);
process.stdout.write(`RELAY_CHILD_READY ${relay.url}\n`);

process.stdin.on('end', () => {
  relay.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.stdin.resume();
