// Who is waiting for which decision (long-polls of GET /api/agent/decisions/:id?wait=).
// respond() and selfResolve() call notifyDecision(id) after their commit.
// Decision ids are unique, so one registry serves every server in the process.
const waiters = new Map<string, Set<() => void>>();

/** Wakes everyone waiting on this decision (call after the change is committed). */
export function notifyDecision(id: string) {
  const set = waiters.get(id);
  if (!set) return;
  waiters.delete(id);
  for (const wake of set) wake();
}

/** Resolves true when notified, false when the time is up or the signal aborts. */
export function waitFor(id: string, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    let set = waiters.get(id);
    if (!set) waiters.set(id, (set = new Set()));
    const done = (woken: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const s = waiters.get(id);
      if (s) {
        s.delete(wake);
        if (s.size === 0) waiters.delete(id);
      }
      resolve(woken);
    };
    const wake = () => done(true);
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener("abort", onAbort);
    set.add(wake);
  });
}

/** How many requests are waiting right now (for /metrics). */
export function waitingCount() {
  let n = 0;
  for (const s of waiters.values()) n += s.size;
  return n;
}


/** Ends every wait now (the server is stopping: long-polls answer at once and clients poll again). */
export function wakeAll() {
  for (const id of [...waiters.keys()]) notifyDecision(id);
}
