/** A promise settled from outside, at most once; `settled` tells whether it still waits. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: unknown) => void;
  private done = false;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    // Nobody may be awaiting (a re-join nobody asked for): a rejection must not be unhandled.
    this.promise.catch(() => undefined);
  }

  get settled(): boolean {
    return this.done;
  }

  resolve(value: T): void {
    if (this.done) return;
    this.done = true;
    this.resolveFn(value);
  }

  reject(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.rejectFn(error);
  }
}
