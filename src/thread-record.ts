/** A registered thread as the registry holds it; the module options' hooks receive it too. */
export type ThreadMetadata = Record<string, string | number | boolean | null>;

export interface ThreadRecord {
  threadId: string;
  ownerId: string;
  createdAt: number;
  metadata: ThreadMetadata;
  /**
   * Registered by a user's join or write (`autoRegisterThreads`) rather than by the
   * application: such a thread expires when unused (`history.autoThreadTtlSeconds`).
   * Absent for threads the application registered, which live until it removes them.
   */
  autoRegistered?: boolean;
}
