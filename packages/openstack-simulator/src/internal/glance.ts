/**
 * Glance v2 subset: listing images (filters, Glance-style `next` pagination)
 * and reading one.
 */
import { dispatch, json, paginate, queryValues, route, type SimRequest } from "./http.ts"
import type * as M from "./model.ts"
import { notFound, type State } from "./state.ts"

const render = (i: M.Image) => ({
  id: i.id,
  name: i.name,
  status: i.status,
  visibility: i.visibility,
  owner: i.owner,
  size: i.size,
  virtual_size: null,
  disk_format: i.disk_format,
  container_format: i.container_format,
  min_disk: i.min_disk,
  min_ram: i.min_ram,
  protected: false,
  os_hidden: false,
  checksum: null,
  tags: [...i.tags],
  created_at: i.created_at,
  updated_at: i.updated_at,
  self: `/v2/images/${i.id}`,
  file: `/v2/images/${i.id}/file`,
  schema: "/v2/schemas/image"
})

const routes = [
  route("GET", "/images", (state: State, req: SimRequest) => {
    const name = req.query.get("name")
    const status = req.query.get("status")
    const visibility = req.query.get("visibility")
    const tags = queryValues(req.query, "tag")
    const items = [...state.images.values()]
      .filter(
        (i) =>
          (name === null || i.name === name) &&
          (status === null || i.status === status) &&
          (visibility === null || visibility === "all" || i.visibility === visibility) &&
          tags.every((t) => i.tags.includes(t))
      )
      .sort((a, b) => b.sim_seq - a.sim_seq)
    const { page, extra } = paginate(state, req, items, (i) => i.id, "images", "glance")
    return json(200, { images: page.map(render), first: "/v2/images", schema: "/v2/schemas/images", ...extra })
  }),
  route("GET", "/images/:id", (state, _req, { id }) => {
    const image = state.images.get(id!)
    if (image === undefined) throw notFound(`No image found with ID ${id}`)
    return json(200, render(image))
  })
]

export const handle = (state: State, req: SimRequest) => dispatch(routes, state, req)
