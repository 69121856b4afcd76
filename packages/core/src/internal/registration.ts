/**
 * A runner's registration, on its lease: its id and the task types it
 * serves. Written by the runner's session, read to tell which ready tasks no
 * live runner can take.
 */
export interface Registration {
  readonly runner: string
  readonly types: ReadonlyArray<string>
}

export const encodeRegistration = (r: Registration): string => JSON.stringify(r)

export const decodeRegistration = (value: string): Registration | undefined => {
  try {
    const v = JSON.parse(value) as Partial<Registration>
    if (typeof v.runner !== "string" || !Array.isArray(v.types)) return undefined
    return { runner: v.runner, types: v.types.filter((t): t is string => typeof t === "string") }
  } catch {
    return undefined
  }
}
