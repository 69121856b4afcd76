import { Store } from "@migrator/core"
import { storeConformance } from "@migrator/core/testing"

storeConformance("memory", () => Store.layerMemory, { clock: "test" })
