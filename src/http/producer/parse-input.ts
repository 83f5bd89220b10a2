import { inputParser } from '../../payloads/input-parser.js';

/**
 * Parses untrusted input into `schema`'s shape, turning the first problem into one
 * BAD_REQUEST that says where (`events[3]: payload is required`). The schemas' messages
 * name their field; a deeper path is added so a nested mistake can be found.
 */
export const parseInput = inputParser({
  notAnObject: (what) => `${what} must be a JSON object`,
  problem: (what, issue, input) => {
    const at = issue && issue.path.length > 1 ? ` (at ${issue.path.join('.')})` : '';
    // Express hands a route without a body an empty object; say so rather than "type is missing".
    const empty = Object.keys(input).length === 0 ? ' is empty or missing; ' : ': ';
    return `${what}${empty}${issue?.message ?? 'invalid'}${at}`;
  },
});
