/**
 * The Store the CLI and the service use: etcd, through `@migrator/etcd-store`,
 * with TLS and user/password authentication when configured.
 *
 * @since 0.1.0
 */
import type { Store } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { type Layer, Redacted } from "effect"
import type { EtcdConfig } from "./Config.ts"

/** The etcd store of a runner configuration (the key prefix is applied by the engine, not here). */
export const layerConfig = (config: EtcdConfig): Layer.Layer<Store.Store, never> =>
  EtcdStore.layer({
    endpoints: config.endpoints,
    tls: config.tls,
    auth:
      config.auth === undefined
        ? undefined
        : { username: config.auth.username, password: Redacted.value(config.auth.password) }
  }) as Layer.Layer<Store.Store, never>
