import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { jwtAuthenticator } from '../auth/jwt-authenticator.js';
import { UserMessageService } from '../delivery/user-message.service.js';
import { ThreadRelayModule } from '../thread-relay.module.js';
import { AgentSimulatorService } from './agent-simulator.service.js';
import { DEMO_CONFIG, type DemoConfig } from './demo.config.js';
import { DevAuthController } from './dev-auth.controller.js';
import { httpLoggerOptions } from './http-logging.js';
import type { ServerConfig } from './server-config.js';
import { WebPageController } from './web-page.controller.js';

export interface AppModuleOptions {
  /** Folder of the built web page served at `/` (`dist/web`); absent = no page. */
  webRoot?: string;
}

/** The reference server: the module, the agent simulator, dev sign-in, the web page. */
@Module({})
export class AppModule {
  constructor(simulator: AgentSimulatorService, userMessages: UserMessageService) {
    userMessages.onMessage((message) => simulator.handle(message));
  }

  static forConfig(config: ServerConfig, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({ pinoHttp: httpLoggerOptions(config.logLevel) }),
        ThreadRelayModule.forRoot({
          authenticate: jwtAuthenticator({ secret: config.jwtSecret }),
          redis: config.redisClusterNodes ? { cluster: config.redisClusterNodes } : config.redisUrl,
          history: { ttlSeconds: config.historyTtlSeconds, maxPerThread: config.historyMax },
          debug: {
            adminToken: config.adminToken,
            allowLoopbackWithoutToken: config.debugLoopbackWithoutToken,
          },
          producer: { apiKeys: config.producerKeys },
        }),
      ],
      controllers: [DevAuthController, WebPageController],
      providers: [
        AgentSimulatorService,
        {
          provide: DEMO_CONFIG,
          useValue: {
            jwtSecret: config.jwtSecret,
            production: config.production,
            webRoot: options.webRoot,
          } satisfies DemoConfig,
        },
      ],
    };
  }
}
