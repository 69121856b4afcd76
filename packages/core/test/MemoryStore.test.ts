import { Store } from "@migrator/core"
import { storeConformance } from "@migrator/core/conformance"

storeConformance("memory", () => Store.layerMemory, { clock: "test" })
