import { ConfigurableModuleBuilder } from '@nestjs/common';
import { relayRouteParts, resolveRelayRoutes, type RelayRoutes } from './thread-relay.routes.js';
import type { ThreadRelayModuleOptions } from './thread-relay.options.js';

export const {
  ConfigurableModuleClass: ThreadRelayConfigurableModule,
  MODULE_OPTIONS_TOKEN: THREAD_RELAY_MODULE_OPTIONS,
  OPTIONS_TYPE: THREAD_RELAY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: THREAD_RELAY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ThreadRelayModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<{ isGlobal: boolean; routes: RelayRoutes }>(
    { isGlobal: true, routes: {} },
    (definition, extras) => {
      const parts = relayRouteParts(definition.module, resolveRelayRoutes(extras.routes));
      return {
        ...definition,
        global: extras.isGlobal,
        controllers: [...(definition.controllers ?? []), ...(parts.controllers ?? [])],
        providers: [...(definition.providers ?? []), ...(parts.providers ?? [])],
        imports: [...(definition.imports ?? []), ...(parts.imports ?? [])],
      };
    },
  )
  .build();
