/**
 * The producer API fuzz: seeded `/v1/*` requests, each answer checked as the other HTTP
 * routes' are (the documented shape, a status matching its code, only a producer key opens
 * them), batches with one result per event.
 */
import type { Findings } from './findings.js';
import type { Fixture } from './fixture.js';
import type { Rng } from './fuzz-input.js';
import { runHttpCases } from './http-fuzz.js';
import { producerCase } from './producer-cases.js';
import { fixedProducerCases } from './producer-fixed-cases.js';

export const PRODUCER_CASES = 400;

export function runProducerFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const cases = [
    ...fixedProducerCases(fx),
    ...Array.from({ length: PRODUCER_CASES }, () => producerCase(rng, fx)),
  ];
  return runHttpCases(fx, cases, findings);
}
