// Consumer test helper: starts the OpenStack simulator of the packed @migrator/openstack-simulator and
// writes its openrc variables to the file named by the first argument; runs until SIGTERM.
import { renameSync, writeFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Effect } from "effect"

const [file] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis" })
  const { admin } = sim
  const openrc = {
    OS_AUTH_URL: sim.authUrl,
    OS_REGION_NAME: sim.region,
    OS_USERNAME: admin.username,
    OS_PASSWORD: admin.password,
    OS_USER_DOMAIN_NAME: admin.userDomainName,
    OS_PROJECT_NAME: admin.projectName,
    OS_PROJECT_DOMAIN_NAME: admin.projectDomainName
  }
  // written whole, then renamed: the test reads it as soon as it exists
  writeFileSync(
    `${file}.part`,
    Object.entries(openrc)
      .map(([k, v]) => `export ${k}='${v}'\n`)
      .join("")
  )
  renameSync(`${file}.part`, file)
  return yield* Effect.never
})

NodeRuntime.runMain(Effect.scoped(program))
