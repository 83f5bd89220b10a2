import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { jwtAuthenticator } from '../auth/jwt-authenticator.js';
import { UserMessageService } from '../delivery/user-message.service.js';
import { ThreadRelayModule } from '../thread-relay.module.js';
import { AgentSimulatorService } from './agent-simulator.service.js';
import { DEMO_CONFIG } from './demo.config.js';
import { DevAuthController } from './dev-auth.controller.js';
import type { ServerConfig } from './server-config.js';

/** The reference server: the module, the agent simulator, dev sign-in. */
@Module({})
export class AppModule {
  constructor(simulator: AgentSimulatorService, userMessages: UserMessageService) {
    userMessages.onMessage((message) => simulator.handle(message));
  }

  static forConfig(config: ServerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
          },
        }),
        ThreadRelayModule.forRoot({
          authenticate: jwtAuthenticator({ secret: config.jwtSecret }),
          redis: config.redisUrl,
          history: { ttlSeconds: config.historyTtlSeconds, maxPerThread: config.historyMax },
          debug: { adminToken: config.adminToken },
        }),
      ],
      controllers: [DevAuthController],
      providers: [
        AgentSimulatorService,
        {
          provide: DEMO_CONFIG,
          useValue: { jwtSecret: config.jwtSecret, production: config.production },
        },
      ],
    };
  }
}
