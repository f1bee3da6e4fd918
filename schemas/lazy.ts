/**
 * A schema built the first time it is used, not when its module loads. ArkType builds a schema's
 * nodes when `type(...)` runs, and the server's few hundred schemas cost most of its start-up;
 * a route's body schema is needed on its first request, a response schema when the OpenAPI
 * document is first asked for or a response is first checked, an ops action's input when a
 * playbook first uses it. Wrapped, each is built then, and only then, by the same definition:
 * what it accepts and refuses does not change.
 *
 * The value stands for the schema itself (a Proxy that builds it on its first property access or
 * call), so `X(data)`, `X.allows(data)`, `typeof X.infer` and `type({ field: X })` read as before.
 *
 * @example
 * export const DebateIdParams = lazy(() => type({ id: "string" }));
 * DebateIdParams.allows({ id: "d-1" }); // built here, on first use: true
 */

interface Pending<T extends object> {
  (): void;
  build?: () => T;
  built?: T;
}

/** Every lazy schema made so far, so {@link buildAllLazy} can build them. */
const made: Pending<object>[] = [];

function force<T extends object>(target: Pending<T>): T {
  if (target.built === undefined) {
    const build = target.build as () => T;
    target.built = build();
    // The definition is not needed again; its closure may hold other schemas' definitions.
    target.build = undefined;
  }
  return target.built;
}

// One handler for every lazy value: each trap builds the schema once and forwards to it. The
// target is a function (ArkType's types are callable), whose own `length` and `name` are
// configurable, so forwarding every other key stays within the Proxy invariants.
const forward: ProxyHandler<Pending<object>> = {
  get: (t, key) => Reflect.get(force(t), key),
  set: (t, key, value) => Reflect.set(force(t), key, value),
  has: (t, key) => Reflect.has(force(t), key),
  apply: (t, self, args) => Reflect.apply(force(t) as (...a: unknown[]) => unknown, self, args),
  ownKeys: (t) => Reflect.ownKeys(force(t)),
  getOwnPropertyDescriptor: (t, key) => {
    const descriptor = Reflect.getOwnPropertyDescriptor(force(t), key);
    // A Proxy may not report a property the target lacks as non-configurable.
    if (descriptor !== undefined) descriptor.configurable = true;
    return descriptor;
  },
  defineProperty: (t, key, descriptor) => Reflect.defineProperty(force(t), key, descriptor),
  deleteProperty: (t, key) => Reflect.deleteProperty(force(t), key),
  getPrototypeOf: (t) => Reflect.getPrototypeOf(force(t)),
};

/**
 * `build()`'s result, built on first use. `build` must be a pure definition (a `type(...)`
 * expression, or one composed from other schemas): when it runs is not its business.
 *
 * @example
 * const Phase = lazy(() => type("'proposal' | 'critique'"));
 * const Turn = lazy(() => type({ phase: Phase, text: "string" })); // builds Phase when Turn is built
 */
export function lazy<T extends object>(build: () => T): T {
  const target: Pending<T> = () => {};
  target.build = build;
  made.push(target as Pending<object>);
  return new Proxy(target as Pending<object>, forward) as unknown as T;
}

/**
 * Builds every lazy schema made so far (in the modules loaded so far) and returns how many there
 * are: a test proves every definition is valid, and a server may warm its schemas up when idle.
 *
 * @example
 * await import("../schemas/debates.ts");
 * buildAllLazy(); // 27
 */
export function buildAllLazy(): number {
  for (const target of made) force(target);
  return made.length;
}

/**
 * How many lazy schemas the loaded modules define, and how many of them have been built: a test
 * holds the server's start-up to building none beyond its configuration's.
 *
 * @example
 * lazyStats(); // { made: 412, built: 38 }
 */
export function lazyStats(): { made: number; built: number } {
  return { made: made.length, built: made.filter((t) => t.built !== undefined).length };
}
