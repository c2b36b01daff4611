// Work that computes on the main thread (the pure-JS use-lite model) returns promises that are already settled:
// awaiting them lets no timer, I/O or signal handler run. Awaiting this between units of such work does.

/** Resolves after one turn of the event loop (pending signal handlers and timers run first). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
