import type { ClusterBusListeners } from './cluster-bus.js';

type Kind = keyof ClusterBusListeners;

/** The listeners of a bus; one that throws is logged by the caller, not the others' problem. */
export class BusListeners {
  private readonly all = new Set<Partial<ClusterBusListeners>>();

  constructor(private readonly onError: (kind: Kind, error: unknown) => void) {}

  add(listeners: Partial<ClusterBusListeners>): () => void {
    this.all.add(listeners);
    return () => this.all.delete(listeners);
  }

  emit<K extends Kind>(kind: K, ...args: Parameters<ClusterBusListeners[K]>): void {
    for (const listeners of this.all) {
      const listener = listeners[kind] as ((...a: typeof args) => void) | undefined;
      if (!listener) continue;
      try {
        listener(...args);
      } catch (error) {
        this.onError(kind, error);
      }
    }
  }
}
