/** Sets of values grouped by a key; a key whose set empties is dropped, so nothing lingers. */
export class SetsByKey<K, V> {
  private readonly sets = new Map<K, Set<V>>();

  add(key: K, value: V): void {
    const set = this.sets.get(key);
    if (set) set.add(value);
    else this.sets.set(key, new Set([value]));
  }

  delete(key: K, value: V): void {
    const set = this.sets.get(key);
    if (!set?.delete(value)) return;
    if (set.size === 0) this.sets.delete(key);
  }

  /** The key's values, live: a value deleted while they are walked is not visited. */
  get(key: K): ReadonlySet<V> | undefined {
    return this.sets.get(key);
  }

  /** Drops the key with all its values. */
  deleteKey(key: K): void {
    this.sets.delete(key);
  }

  has(key: K): boolean {
    return this.sets.has(key);
  }

  /** The keys that hold at least one value. */
  keys(): K[] {
    return [...this.sets.keys()];
  }

  /** How many keys hold at least one value. */
  get keyCount(): number {
    return this.sets.size;
  }

  /** How many values are held under every key. */
  get size(): number {
    let count = 0;
    for (const set of this.sets.values()) count += set.size;
    return count;
  }
}
