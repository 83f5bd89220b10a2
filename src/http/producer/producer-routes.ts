/**
 * The paths of the producer routes, after any global prefix, matched loosely as express
 * routes them (any prefix, trailing slash, any case). Body parsing and its errors are
 * handled before routing, where only the path is known, so they go by its shape.
 */
export const PRODUCER_ROUTE =
  /\/v1\/(?:threads\/[^/]+(?:\/events|\/delivery)?|runs\/[^/]+|events|users\/[^/]+\/events)\/?$/i;
