import { inputParser } from './input-parser.js';

/** Parses a socket event's payload, turning the first problem into one BAD_REQUEST message. */
export const parseClientPayload = inputParser({
  notAnObject: (event) => `${event} expects an object payload`,
  problem: (event, issue) => {
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return `${event}: ${where}${issue?.message ?? 'invalid payload'}`;
  },
});
