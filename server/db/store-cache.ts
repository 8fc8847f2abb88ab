// Rows kept in memory per store (both connections of one database share it):
// reads fill it, the unit of work that changes a row drops it. Bounded: beyond
// `max`, the least recently used entry goes (and is read again when it comes back).
// Each cache has a name: a unit's drops are among its effects, so other nod
// instances on the same PostgreSQL database drop the entry too (dropShared).
import { isReadDb, storeKey, type Db } from "./index.ts";
import type { Effects, UnitOfWork } from "./unit-of-work.ts";

const byName = new Map<string, StoreCache<unknown>>();

/** Drops the entries another instance's committed unit changed (Effects.forget), from this store's caches. */
export function dropShared(db: Db, forget: Effects["forget"]) {
  for (const f of forget) byName.get(f.cache)?.drop(db, f.key);
}

export class StoreCache<V> {
  private readonly byStore = new WeakMap<Db, Map<string, V>>();
  // Bumped by every forget: a read that began before a change and answers after
  // it was forgotten must not put the old row back (on PostgreSQL a read is a
  // round trip, and the change's COMMIT can land while it is on its way).
  private readonly generation = new WeakMap<Db, number>();

  /** name: what other instances know this cache by (none: it is not shared). */
  constructor(
    private readonly max: number,
    readonly name?: string,
  ) {
    if (name) byName.set(name, this as StoreCache<unknown>);
  }

  private entries(db: Db) {
    const key = storeKey(db);
    let map = this.byStore.get(key);
    if (!map) this.byStore.set(key, (map = new Map()));
    return map;
  }

  /** The kept value, now the most recently used; undefined when none is kept. */
  get(db: Db, key: string): V | undefined {
    const map = this.entries(db);
    const value = map.get(key);
    if (value !== undefined) {
      map.delete(key);
      map.set(key, value);
    }
    return value;
  }

  /**
   * The kept value, or read() 's answer, kept when it was read on a read
   * connection (ctx.db: committed rows) and nothing was forgotten meanwhile.
   */
  async load(db: Db, key: string, read: () => Promise<V | undefined>): Promise<V | undefined> {
    const kept = this.get(db, key);
    if (kept !== undefined) return kept;
    const store = storeKey(db);
    const before = this.generation.get(store) ?? 0;
    const value = await read();
    if (value !== undefined && isReadDb(db) && (this.generation.get(store) ?? 0) === before) this.set(db, key, value);
    return value;
  }

  /**
   * The kept value, or read()'s answer inside the unit (its transaction, which
   * sees the unit's own writes; read may write too), kept once the unit
   * commits if nothing was forgotten meanwhile, here or by another instance.
   */
  async loadInUnit(uow: UnitOfWork, key: string, read: () => Promise<V>): Promise<V> {
    const kept = this.get(uow.db, key);
    if (kept !== undefined) return kept;
    const store = storeKey(uow.db);
    const before = this.generation.get(store) ?? 0;
    const value = await read();
    uow.afterCommit(() => {
      if ((this.generation.get(store) ?? 0) === before) this.set(store, key, value);
    });
    return value;
  }

  set(db: Db, key: string, value: V) {
    const map = this.entries(db);
    map.set(key, value);
    if (map.size > this.max) map.delete(map.keys().next().value!);
  }

  /**
   * Called inside the unit of work that changes the row: dropped at once
   * (reads in the unit see the change) and again after the COMMIT (a read
   * elsewhere in between kept the old row).
   */
  forget(uow: UnitOfWork, key: string) {
    const db = uow.db;
    this.drop(db, key);
    uow.afterCommit(() => this.drop(db, key));
    if (this.name) uow.cacheChanged(this.name, key);
  }

  /** Drops the entry now; a read under way when this happens keeps nothing (load). */
  drop(db: Db, key: string) {
    const store = storeKey(db);
    this.byStore.get(store)?.delete(key);
    this.generation.set(store, (this.generation.get(store) ?? 0) + 1);
  }
}
