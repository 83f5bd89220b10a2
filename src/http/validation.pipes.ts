import { Body, Injectable, Param, Query, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { assertValidId } from '../ids.js';
import { parseInput } from './producer/parse-input.js';

/** A route parameter that must be a valid id: `@Param('threadId', new ValidIdPipe('threadId'))`. */
@Injectable()
export class ValidIdPipe implements PipeTransform<unknown, string> {
  constructor(private readonly field: string) {}

  transform(value: unknown): string {
    return assertValidId(value, this.field);
  }
}

/** A body or query parsed into `schema` (`parseInput`): `@Body(new InputPipe(schema, 'request body'))`. */
@Injectable()
export class InputPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly what: string,
  ) {}

  transform(value: unknown): z.infer<S> {
    return parseInput(this.schema, value, this.what);
  }
}

/** A route parameter that must be a valid id, named as the route names it. */
export const IdParam = (name: string): ParameterDecorator => Param(name, new ValidIdPipe(name));

/** The JSON body, parsed into `schema`. */
export const ValidBody = (schema: z.ZodType): ParameterDecorator =>
  Body(new InputPipe(schema, 'request body'));

/** The query string, parsed into `schema`. */
export const ValidQuery = (schema: z.ZodType): ParameterDecorator =>
  Query(new InputPipe(schema, 'query'));
