/**
 * A set of application callbacks. A callback that throws never stops the others nor
 * reaches socket.io: the error goes to `onThrow`.
 */
export class Listeners<T> {
  private readonly handlers = new Set<(value: T) => void>();

  add(handler: (value: T) => void): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  emit(value: T, onThrow: (error: unknown) => void): void {
    for (const handler of [...this.handlers]) {
      try {
        handler(value);
      } catch (error) {
        onThrow(error);
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
