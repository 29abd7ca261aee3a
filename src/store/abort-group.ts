/** Something an abort signal ends. */
export interface Endable {
  end(): void;
}

/**
 * One abort listener per signal, however many watchers share it (a server may hand one signal to
 * thousands): a listener per watcher would trip Node's listener-leak warning and cost memory.
 */
export class AbortGroups {
  private readonly bySignal = new WeakMap<AbortSignal, Set<Endable>>();

  add(signal: AbortSignal, member: Endable): void {
    let members = this.bySignal.get(signal);
    if (members === undefined) {
      const created = new Set<Endable>();
      members = created;
      this.bySignal.set(signal, created);
      signal.addEventListener(
        'abort',
        () => {
          this.bySignal.delete(signal);
          for (const each of [...created]) {
            each.end();
          }
        },
        { once: true },
      );
    }
    members.add(member);
  }

  remove(signal: AbortSignal, member: Endable): void {
    this.bySignal.get(signal)?.delete(member);
  }
}
