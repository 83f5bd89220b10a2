import { createRequire } from 'node:module';
import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type * as Express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { RELAY_OPTIONS } from '../../thread-relay.constants.js';
import { bearerToken } from '../http-user-auth.service.js';
import { ProducerKeys } from './producer-keys.js';
import { PRODUCER_ROUTE } from './producer-routes.js';

/**
 * express as @nestjs/platform-express loads it: the module has no express dependency of
 * its own, and this way there is never a second copy.
 */
function nestExpress(): typeof Express {
  const platform = createRequire(import.meta.url).resolve('@nestjs/platform-express');
  return createRequire(platform)('express') as typeof Express;
}

/**
 * A 500-event batch is far above express's default 100 kB JSON limit, so the producer
 * routes read their bodies with their own limit (`producer.maxBodyBytes`). The host app's
 * parser runs before any route or Nest middleware, so this one is mounted when the
 * provider is built, which is before Nest mounts its parsers; a body read here is then
 * skipped by them. Only requests with a valid key are read this far: anyone else gets the
 * host app's limit and then the guard's 401. Bodies are JSON whatever their Content-Type
 * (a `curl -d` says form-urlencoded). Errors go on to `BodyParserErrors`, which answers
 * them in the module's shape.
 */
@Injectable()
export class ProducerBodyParser {
  constructor(
    adapterHost: HttpAdapterHost,
    keys: ProducerKeys,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    // Undefined without HTTP; other platforms keep their own parser and its limit.
    const adapter = adapterHost.httpAdapter;
    if (!keys.enabled || adapter?.getType() !== 'express') return;
    const parse = nestExpress().json({ limit: options.producer.maxBodyBytes, type: () => true });
    const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
      if (!PRODUCER_ROUTE.test(req.path) || keys.identify(bearerToken(req)) === null) {
        next();
        return;
      }
      parse(req, res, next);
    };
    adapter.use(middleware);
  }
}
