/**
 * A tiny typed event emitter (nanoevents style): `on()` returns the function
 * that unsubscribes. Isomorphic. Listener errors are not caught: like DOM
 * events, a throwing listener is the caller's bug.
 */
export type EventMap<Events> = { [E in keyof Events]: (...args: never[]) => void };

export class Emitter<Events extends EventMap<Events>> {
  #listeners: { [E in keyof Events]?: Events[E][] } = {};

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    (this.#listeners[event] ??= []).push(listener);
    return () => {
      const list = this.#listeners[event];
      if (list) this.#listeners[event] = list.filter((l) => l !== listener);
    };
  }

  /** Number of listeners for `event`. */
  listenerCount<E extends keyof Events>(event: E): number {
    return this.#listeners[event]?.length ?? 0;
  }

  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const list = this.#listeners[event];
    if (list === undefined) return;
    for (const listener of list) (listener as (...a: Parameters<Events[E]>) => void)(...args);
  }
}
