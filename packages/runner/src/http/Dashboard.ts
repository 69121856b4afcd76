export const html = "<!doctype html><title>migrator</title>"
