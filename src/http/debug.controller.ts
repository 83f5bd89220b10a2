import { Body, Controller, Get, Inject, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import { MESSAGE_LOG, REGISTRY_STORE, RELAY_OPTIONS } from '../thread-relay.constants.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import type { DeliveryReceipt } from '../delivery/delivery.types.js';
import { type MessageLog } from '../delivery/message-log.interface.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { RelayErrorFilter } from './relay-error.filter.js';
import { PageArgsPipe, type PageArgs } from './page-args.pipe.js';

/**
 * What the cluster believes, read from the shared registry (every instance writes its
 * connections there), so any instance answers for all of them. Paginated with
 * `?limit=&cursor=`; follow `nextCursor` until it is null.
 */
@Controller('debug/websocket')
@UseGuards(AdminTokenGuard)
@UseFilters(RelayErrorFilter)
export class DebugController {
  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly delivery: DeliveryService,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  @Get('connections')
  async connections(@Query(PageArgsPipe) args: PageArgs): Promise<object> {
    const page = await this.store.listConnections(args.cursor, args.limit);
    return {
      answeredBy: this.options.instanceId,
      connections: page.items.map((c) => ({
        id: c.connectionId,
        userId: c.userId,
        instanceId: c.instanceId,
        transport: c.transport,
        threads: c.threads,
        connectedAt: new Date(c.connectedAt).toISOString(),
        lastSeenAt: new Date(c.lastSeenAt).toISOString(),
      })),
      nextCursor: page.nextCursor,
    };
  }

  @Get('threads')
  async threads(@Query(PageArgsPipe) args: PageArgs): Promise<object> {
    const page = await this.store.listThreads(args.cursor, args.limit);
    const threads = await Promise.all(
      page.items.map(async (t) => {
        const [runs, state, liveConnections] = await Promise.all([
          this.registry.runsOfThread(t.threadId),
          this.messages.state(t.threadId),
          this.store.countConnectionsOfThread(t.threadId),
        ]);
        // Only cursors of the log as it is now: older epochs' seqs would not match its head.
        const delivered = await this.store.deliveredCursors(t.threadId, state.epoch);
        return {
          threadId: t.threadId,
          ownerId: t.ownerId,
          createdAt: new Date(t.createdAt).toISOString(),
          metadata: t.metadata,
          runs,
          headSeq: state.headSeq,
          firstSeq: state.firstSeq,
          epoch: state.epoch,
          liveConnections,
          delivered,
        };
      }),
    );
    return { answeredBy: this.options.instanceId, threads, nextCursor: page.nextCursor };
  }

  @Get('mappings')
  async mappings(@Query(PageArgsPipe) args: PageArgs): Promise<object> {
    const page = await this.store.listThreads(args.cursor, args.limit);
    const threadToConnections: Record<string, string[]> = {};
    const runToThread: Record<string, string> = {};
    const userToConnections: Record<string, string[]> = {};
    await Promise.all(
      page.items.map(async (t) => {
        const [connections, runs] = await Promise.all([
          this.store.connectionsOfThread(t.threadId),
          this.registry.runsOfThread(t.threadId),
        ]);
        threadToConnections[t.threadId] = connections;
        for (const run of runs) runToThread[run] = t.threadId;
      }),
    );
    const owners = [...new Set(page.items.map((t) => t.ownerId))];
    await Promise.all(
      owners.map(async (userId) => {
        userToConnections[userId] = await this.store.connectionsOfUser(userId);
      }),
    );
    return {
      answeredBy: this.options.instanceId,
      threadToConnections,
      runToThread,
      userToConnections,
      nextCursor: page.nextCursor,
    };
  }

  @Post('send')
  async send(@Body() body: unknown): Promise<DeliveryReceipt> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestError('body must be { threadId | runId, type, payload }');
    }
    const { threadId, runId, type, payload } = body as Record<string, unknown>;
    const id = threadId ?? runId;
    if (typeof id !== 'string') throw new BadRequestError('threadId or runId is required');
    return this.delivery.sendToThread(id, type as string, payload ?? {});
  }
}
