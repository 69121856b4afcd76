// A plugin module without the `layer` export a plugin must have (BadInput tests).
export const handlers = []
