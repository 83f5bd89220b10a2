import {
  Body,
  Controller,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  UseFilters,
} from '@nestjs/common';
import { signUserToken } from '../auth/sign-token.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { RelayErrorFilter } from '../http/relay-error.filter.js';
import { isValidId } from '../ids.js';
import { DEMO_CONFIG, type DemoConfig } from './demo.config.js';

/** Dev sign-in: any user id gets a token. Off when NODE_ENV=production. */
@Controller('auth')
@UseFilters(RelayErrorFilter)
export class DevAuthController {
  constructor(@Inject(DEMO_CONFIG) private readonly config: DemoConfig) {}

  @Post('dev-token')
  @HttpCode(200)
  async devToken(@Body() body: unknown): Promise<{ token: string; userId: string }> {
    if (this.config.production) throw new NotFoundException();
    const userId = (body as { userId?: unknown } | null)?.userId;
    if (!isValidId(userId)) {
      throw new BadRequestError('userId must be 1-200 letters, digits or _ . : @ -');
    }
    return { token: await signUserToken(userId, this.config.jwtSecret), userId };
  }
}
