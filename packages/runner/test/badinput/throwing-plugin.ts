// A plugin module that fails while loading (BadInput tests).
export const loaded = true
throw new Error("plugin initialisation exploded")
