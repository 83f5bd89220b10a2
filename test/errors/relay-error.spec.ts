import * as errors from '../../src/errors/index.js';
import { errorAnswer } from '../../src/errors/error-answer.js';

describe('RelayError', () => {
  it.each<[errors.RelayError, string, number]>([
    [new errors.BadRequestError('bad'), 'BAD_REQUEST', 400],
    [new errors.InvalidIdError('threadId', 'x y', 'has a space'), 'INVALID_ID', 400],
    [new errors.InvalidPayloadError('INVALID_EVENT_TYPE', 'type'), 'INVALID_EVENT_TYPE', 400],
    [new errors.InvalidPayloadError('PAYLOAD_NOT_JSON', 'json'), 'PAYLOAD_NOT_JSON', 400],
    [new errors.InvalidPayloadError('PAYLOAD_TOO_LARGE', 'large'), 'PAYLOAD_TOO_LARGE', 413],
    [new errors.UnauthorizedError('who'), 'UNAUTHORIZED', 401],
    [new errors.TokenExpiredError('expired'), 'TOKEN_EXPIRED', 401],
    [new errors.ForbiddenError('u1', 't1'), 'FORBIDDEN', 403],
    [new errors.ThreadNotFoundError('t1'), 'THREAD_NOT_FOUND', 404],
    [new errors.ThreadOwnershipConflictError('t1', 'u2'), 'THREAD_OWNERSHIP_CONFLICT', 409],
    [errors.RunConflictError.idIsThread('r1'), 'RUN_CONFLICT', 409],
    [new errors.RateLimitedError('clientEvents', 250, 'slow down'), 'RATE_LIMITED', 429],
    [new errors.LimitExceededError('threadsPerConnection', 'too many'), 'LIMIT_EXCEEDED', 429],
    [new errors.RelayUnavailableError('down'), 'RELAY_UNAVAILABLE', 503],
    [new errors.DeliveryTimeoutError('t1', 3, 100, 2), 'DELIVERY_TIMEOUT', 504],
    [new errors.InvalidOptionError('limits', 'must be positive'), 'INVALID_OPTION', 500],
  ])('%s has its code and HTTP status', (error, code, status) => {
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.name).toBe(error.constructor.name);
    expect(error.toJSON()).toEqual({ code, message: error.message });
    expect(errorAnswer(error)).toMatchObject({ status, body: { code }, unexpected: false });
  });

  it('keeps the cause it is given', () => {
    const cause = new Error('socket closed');
    expect(new errors.RelayUnavailableError('down', { cause }).cause).toBe(cause);
    expect(new errors.BadRequestError('bad', { cause }).cause).toBe(cause);
  });

  it('answers anything else as INTERNAL 500', () => {
    expect(errorAnswer(new Error('bug'))).toEqual({
      status: 500,
      body: { code: 'INTERNAL', message: 'internal error' },
      unexpected: true,
    });
  });
});
