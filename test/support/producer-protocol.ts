/** Marks the producer child's answer lines on its stdout. */
export const ANSWER = 'PRODUCER_ANSWER';
