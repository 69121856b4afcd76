/**
 * The Store the CLI and the service use: etcd, through `@migrator/etcd-store`.
 *
 * @since 0.1.0
 */
import type { Store } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import type { Layer } from "effect"

export const layer = (endpoints: ReadonlyArray<string>): Layer.Layer<Store.Store, never> =>
  EtcdStore.layer({ endpoints }) as Layer.Layer<Store.Store, never>
