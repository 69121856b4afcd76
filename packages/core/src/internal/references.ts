// Adapter between the engine/builder and `@migrator/resolver`.
export type ScannedRef =
  | { readonly _tag: "Ref"; readonly taskId: string; readonly location: string }
  | { readonly _tag: "Malformed"; readonly location: string; readonly message: string }

const escapeToken = (token: string) => token.replaceAll("~", "~0").replaceAll("/", "~1")

/** Every `$ref` in `input`, with the JSON pointer of where it sits. */
export const scan = (input: unknown): ReadonlyArray<ScannedRef> => {
  const found: Array<ScannedRef> = []
  const stack: Array<{ value: unknown; location: string }> = [{ value: input, location: "" }]
  while (stack.length > 0) {
    const { value, location } = stack.pop()!
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], location: `${location}/${i}` })
    } else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>
      if ("$ref" in record) {
        const ref = record.$ref
        const hash = typeof ref === "string" ? ref.indexOf("#") : -1
        if (typeof ref !== "string" || hash <= 0 || Object.keys(record).length !== 1) {
          found.push({ _tag: "Malformed", location, message: `malformed reference ${JSON.stringify(ref)}` })
        } else {
          found.push({ _tag: "Ref", taskId: decodeURIComponent(ref.slice(0, hash)), location })
        }
        continue
      }
      for (const [k, v] of Object.entries(record)) stack.push({ value: v, location: `${location}/${escapeToken(k)}` })
    }
  }
  return found
}
