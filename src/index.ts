export { ThreadRelayModule } from './thread-relay.module.js';
export type { ThreadRelayProducerOptions } from './producer/producer-options.js';
export {
  THREAD_RELAY_ASYNC_OPTIONS_TYPE,
  THREAD_RELAY_MODULE_OPTIONS,
  THREAD_RELAY_OPTIONS_TYPE,
} from './thread-relay.module-definition.js';
export {
  type Authenticate,
  type AuthenticatedUser,
  type AuthRequest,
  type RedisClusterConfig,
  type ResolvedRelayOptions,
  type ThreadAccessHook,
  type ThreadAction,
  type ThreadRelayModuleOptions,
  type UserMessage,
  type UserMessageHandler,
} from './thread-relay.options.js';
export {
  MESSAGE_LOG,
  RATE_LIMIT_STORE,
  REGISTRY_STORE,
  RELAY_OPTIONS,
} from './thread-relay.constants.js';
export { resolveRelayOptions } from './thread-relay.options-resolver.js';
export type { RelayRoutes } from './thread-relay.routes.js';

export { ThreadRegistryService } from './registry/thread-registry.service.js';
export type { Resolution } from './registry/id-resolver.js';
export type { RegistryStore } from './registry/registry-store.interface.js';
export { MemoryRegistryStore } from './registry/memory-registry.store.js';
export type * from './registry/registry.types.js';
export type * from './thread-record.js';
export {
  assertValidId,
  isRunFormId,
  isValidId,
  makeRunId,
  MAX_ID_LENGTH,
  parseRunId,
  type ParsedRunId,
} from './ids.js';

export { DeliveryService } from './delivery/delivery.service.js';
export type {
  DeliveryReceipt,
  SendOptions,
  UserDeliveryReceipt,
} from './delivery/delivery.types.js';
export { UserMessageService, userMessageKey } from './delivery/user-message.service.js';
export { userMessageTextLimit } from './delivery/user-message-limits.js';
export type { RateLimitStore } from './limits/rate-limit-store.interface.js';
export { MemoryRateLimitStore } from './limits/memory-rate-limit.store.js';
export type { BucketRate, TakeResult } from './limits/token-bucket.js';
export {
  type AppendOptions,
  type AppendResult,
  type HistorySlice,
  type LogState,
  type MessageLog,
  type NewEvent,
  type RetentionOptions,
} from './delivery/message-log.interface.js';
export { checkCursor } from './delivery/message-log.rules.js';
export { MemoryMessageLog } from './delivery/memory-message-log.js';

export { RelayMetrics, type LocalGatewayState } from './observability/relay-metrics.service.js';
export { RedisHealthService, type DegradedReason } from './redis/redis-health.service.js';

export { RelayIoAdapter } from './gateway/relay-io.adapter.js';
export { RelayGateway } from './gateway/relay.gateway.js';

export { WebSocketManager, SEND_MESSAGE_DEPRECATION_CODE } from './compat/websocket-manager.js';

export { jwtAuthenticator, type JwtAuthenticatorOptions } from './auth/jwt-authenticator.js';
export { signUserToken } from './auth/sign-token.js';

export {
  BadRequestError,
  DeliveryTimeoutError,
  ForbiddenError,
  InvalidIdError,
  InvalidOptionError,
  InvalidPayloadError,
  LimitExceededError,
  RateLimitedError,
  RelayError,
  RelayUnavailableError,
  RunConflictError,
  ThreadNotFoundError,
  ThreadOwnershipConflictError,
  TokenExpiredError,
  UnauthorizedError,
} from './errors/index.js';

export * from './protocol.js';

export { AgUiRenderer, AG_UI_NATIVE_PREFIX, type AgUiEvent } from './formats/ag-ui-renderer.js';
export { AiSdkRenderer, AI_SDK_NATIVE_PREFIX, type AiSdkChunk } from './formats/ai-sdk-renderer.js';
