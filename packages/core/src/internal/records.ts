/**
 * The records the engine writes for its own tasks, made without their constructors' checks. A
 * `Schema.Class` constructor checks every field, and `Codec.encode` checks them all again before
 * anything is written: each attempt makes two statuses, a result and two events, every one
 * checked twice, and a job's first claim makes its `running` state on a pickup's path (its
 * constructor took 46 µs of the 0.9 ms between the watch reply and the claim's request) (the profile of a runner's first job put 6% of its samples in those
 * constructors; the bench's throughput did not show the saving above its noise). An
 * instance is made as `Data.Class` makes it (the class's prototype, the fields as its own
 * properties); only for classes without constructors or defaults of their own, whose fields the
 * type checker has seen and whose encoding is the check.
 */
export const make = <C extends new (...args: never) => object>(
  record: C,
  fields: ConstructorParameters<C>[0]
): InstanceType<C> => instance(record.prototype as object, fields as object) as InstanceType<C>

/** An instance as `Data.Class` makes one: `prototype`, and `fields` as its own properties. */
export const instance = (prototype: object, fields: object): object => Object.assign(Object.create(prototype), fields)
