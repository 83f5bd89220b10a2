/**
 * A relay instance in a process of its own, for tests that kill an instance the hard way.
 * Compiled and started by `relay-child-process.ts`; options come as JSON in
 * RELAY_CHILD_OPTIONS.
 */
import 'reflect-metadata';
import { serveUntilStopped } from './child-entry.js';
import { startRelayApp, type TestRelayOptions } from './relay-app.js';

const options = JSON.parse(process.env.RELAY_CHILD_OPTIONS ?? '{}') as TestRelayOptions;
serveUntilStopped(await startRelayApp(options));
