/**
 * Reference counts of the channels a process is subscribed to: the first watch of a
 * channel subscribes, the last unwatch unsubscribes. Commands go out on one connection in
 * the order they are issued, so an unsubscribe followed by a subscribe of the same channel
 * leaves it subscribed, and each watch waits for the subscribe it needs.
 */
export class ChannelInterest {
  private readonly counts = new Map<string, number>();
  /** The channels watched, each with how many watches hold it. */
  readonly watched: ReadonlyMap<string, number> = this.counts;
  private readonly subscribed = new Map<string, Promise<void>>();

  constructor(
    private readonly subscribe: (channel: string) => Promise<void>,
    private readonly unsubscribe: (channel: string) => Promise<void>,
  ) {}

  watch(channel: string): Promise<void> {
    const count = this.counts.get(channel) ?? 0;
    this.counts.set(channel, count + 1);
    let ready = this.subscribed.get(channel);
    if (!ready) {
      ready = this.subscribe(channel);
      this.subscribed.set(channel, ready);
      // A failed subscribe is tried again by the next watch, not remembered.
      ready.catch(() => {
        if (this.subscribed.get(channel) === ready) this.subscribed.delete(channel);
      });
    }
    return ready;
  }

  unwatch(channel: string): void {
    const count = this.counts.get(channel);
    if (count === undefined) return;
    if (count > 1) {
      this.counts.set(channel, count - 1);
      return;
    }
    this.counts.delete(channel);
    this.subscribed.delete(channel);
    this.unsubscribe(channel).catch(() => undefined);
  }
}
