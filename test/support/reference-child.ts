/**
 * The reference server (module + agent simulator, quick agent timing) in a process of its
 * own. Compiled and started like `relay-child.ts`; its environment comes as JSON in
 * REFERENCE_CHILD_ENV and is read exactly as `src/main.ts` reads `process.env`.
 */
import 'reflect-metadata';
import { startReferenceServer } from '../demo/support/reference-server.js';
import { serveUntilStopped } from './child-entry.js';

const env = JSON.parse(process.env.REFERENCE_CHILD_ENV ?? '{}') as Record<string, string>;
serveUntilStopped(await startReferenceServer(env));
