/**
 * @platformatic/kafka 2.x declares Node >= 22.22 and calls `Promise.withResolvers` (ES2024, Node
 * 22+) on every promise-style API call; Tributary supports Node 20. This adds the standard
 * function where it is missing, before the client is loaded (index.ts imports it first). It is
 * the spec's behaviour, so code that feature-tests for it is not misled.
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
