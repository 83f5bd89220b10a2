import { Injectable } from '@nestjs/common';

/** Why who may use a thread may have changed. */
export type AccessChangeReason = 'unregistered' | 'expired' | 'registered' | 'revalidate';

export interface AccessChange {
  threadId: string;
  reason: AccessChangeReason;
}

export type AccessChangeListener = (change: AccessChange) => void;

/**
 * Announces, in this process, that the set of users who may use a thread may have
 * changed: it was unregistered, its lease ran out, it was registered anew (perhaps to
 * someone else), or the application asked for its access to be checked again. The
 * gateway re-checks its connections joined to the thread and tells the other instances.
 */
@Injectable()
export class ThreadAccessChanges {
  private readonly listeners = new Set<AccessChangeListener>();

  on(listener: AccessChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: AccessChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
