// Resolution of task inputs through `@migrator/resolver`, as a message on failure.
import { Effect } from "effect"

export const resolve = (input: unknown, outputs: ReadonlyMap<string, unknown>): Effect.Effect<unknown, string> =>
  Effect.suspend(() => {
    const seen: Array<string> = []
    const walk = (value: unknown, depth: number): unknown => {
      if (depth > 64) throw new Error(`reference chain too deep: ${seen.join(" -> ")}`)
      if (Array.isArray(value)) return value.map((v) => walk(v, depth))
      if (typeof value !== "object" || value === null) return value
      const record = value as Record<string, unknown>
      if (typeof record.$ref === "string") {
        const ref = record.$ref
        const hash = ref.indexOf("#")
        const task = decodeURIComponent(ref.slice(0, hash))
        if (!outputs.has(task)) throw new Error(`reference to task "${task}", which has no output`)
        let target = outputs.get(task)
        const pointer = decodeURIComponent(ref.slice(hash + 1))
        for (const token of pointer === "" ? [] : pointer.slice(1).split("/")) {
          const t = token.replaceAll("~1", "/").replaceAll("~0", "~")
          if (typeof target !== "object" || target === null || !(t in target)) {
            throw new Error(`pointer "${pointer}" does not exist in the output of "${task}"`)
          }
          target = (target as Record<string, unknown>)[t]
        }
        seen.push(ref)
        return walk(target, depth + 1)
      }
      return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, walk(v, depth)]))
    }
    try {
      return Effect.succeed(walk(input, 0))
    } catch (e) {
      return Effect.fail((e as Error).message)
    }
  })
