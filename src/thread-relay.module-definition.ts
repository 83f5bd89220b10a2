import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ThreadRelayModuleOptions } from './thread-relay.options.js';

export const {
  ConfigurableModuleClass: ThreadRelayConfigurableModule,
  MODULE_OPTIONS_TOKEN: THREAD_RELAY_MODULE_OPTIONS,
  OPTIONS_TYPE: THREAD_RELAY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: THREAD_RELAY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ThreadRelayModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
