/**
 * Records the simulator keeps, one interface per resource kind. Neutron and
 * Keystone records have the API's own shape; servers, flavors and volumes keep
 * a few extra fields (prefixed `sim`) that the API renders or hides.
 */

export type ServiceName = "identity" | "compute" | "network" | "volumev3" | "image"

export interface Domain {
  id: string
  name: string
  enabled: boolean
}

export interface Project {
  id: string
  name: string
  domain_id: string
  description: string
  enabled: boolean
  is_domain: boolean
  parent_id: string
  tags: Array<string>
}

export interface User {
  id: string
  name: string
  domain_id: string
  password: string
  default_project_id: string
}

export interface ApplicationCredential {
  id: string
  name: string
  secret: string
  user_id: string
  project_id: string
}

export interface Role {
  id: string
  name: string
}

export interface Token {
  value: string
  userId: string
  projectId: string | undefined
  domainId: string | undefined
  methods: Array<string>
  applicationCredentialId: string | undefined
  issuedAt: number
  expiresAt: number
}

export interface Flavor {
  id: string
  name: string
  ram: number
  vcpus: number
  disk: number
  ephemeral: number
  swap: number
  rxtx_factor: number
  is_public: boolean
  description: string | null
  extra_specs: Record<string, string>
  /** Projects given access to a private flavor. */
  access: Array<string>
}

export interface Keypair {
  name: string
  user_id: string
  public_key: string
  fingerprint: string
  type: string
  created_at: string
}

export interface VolumeAttachmentRef {
  volume_id: string
  device: string
  delete_on_termination: boolean
  boot_index: number | null
}

export interface ServerFault {
  code: number
  message: string
  created: string
}

export interface Server {
  id: string
  name: string
  project_id: string
  user_id: string
  status: string
  vm_state: string
  task_state: string | null
  power_state: number
  flavor_id: string
  image_id: string
  key_name: string | null
  availability_zone: string
  host: string
  metadata: Record<string, string>
  tags: Array<string>
  security_groups: Array<string>
  port_ids: Array<string>
  volumes: Array<VolumeAttachmentRef>
  fault: ServerFault | null
  created: string
  updated: string
  launched_at: string | null
  console_output: string | null
  /** Creation order, for Nova's newest-first listing. */
  sim_seq: number
}

export interface FixedIp {
  subnet_id: string
  ip_address: string
}

export interface Network {
  id: string
  name: string
  project_id: string
  tenant_id: string
  admin_state_up: boolean
  shared: boolean
  status: string
  subnets: Array<string>
  mtu: number
  description: string
  "router:external": boolean
  "provider:network_type": string
  "provider:physical_network": string | null
  "provider:segmentation_id": number | null
  tags: Array<string>
  created_at: string
  updated_at: string
  revision_number: number
}

export interface Subnet {
  id: string
  name: string
  network_id: string
  project_id: string
  tenant_id: string
  ip_version: number
  cidr: string
  gateway_ip: string | null
  enable_dhcp: boolean
  allocation_pools: Array<{ start: string; end: string }>
  dns_nameservers: Array<string>
  host_routes: Array<{ destination: string; nexthop: string }>
  description: string
  tags: Array<string>
  created_at: string
  updated_at: string
  revision_number: number
}

export interface Port {
  id: string
  name: string
  network_id: string
  project_id: string
  tenant_id: string
  mac_address: string
  fixed_ips: Array<FixedIp>
  security_groups: Array<string>
  device_id: string
  device_owner: string
  status: string
  admin_state_up: boolean
  "binding:host_id": string
  "binding:vif_type": string
  description: string
  tags: Array<string>
  created_at: string
  updated_at: string
  revision_number: number
  /** Created by Nova for a server (deleted with it), as opposed to passed in by the user. */
  sim_nova_owned: boolean
}

export interface Router {
  id: string
  name: string
  project_id: string
  tenant_id: string
  status: string
  admin_state_up: boolean
  external_gateway_info: {
    network_id: string
    enable_snat: boolean
    external_fixed_ips: Array<FixedIp>
  } | null
  routes: Array<{ destination: string; nexthop: string }>
  description: string
  tags: Array<string>
  created_at: string
  updated_at: string
  revision_number: number
}

export interface FloatingIp {
  id: string
  project_id: string
  tenant_id: string
  floating_network_id: string
  floating_ip_address: string
  port_id: string | null
  fixed_ip_address: string | null
  router_id: string | null
  status: string
  description: string
  tags: Array<string>
  created_at: string
  updated_at: string
  revision_number: number
}

export interface SecurityGroup {
  id: string
  name: string
  project_id: string
  tenant_id: string
  description: string
  stateful: boolean
  tags: Array<string>
  created_at: string
  updated_at: string
  revision_number: number
}

export interface SecurityGroupRule {
  id: string
  security_group_id: string
  project_id: string
  tenant_id: string
  direction: string
  ethertype: string
  protocol: string | null
  port_range_min: number | null
  port_range_max: number | null
  remote_ip_prefix: string | null
  remote_group_id: string | null
  description: string
  created_at: string
  updated_at: string
  revision_number: number
}

export interface VolumeAttachment {
  id: string
  attachment_id: string
  volume_id: string
  server_id: string
  host_name: string
  device: string
  attached_at: string
}

export interface Volume {
  id: string
  name: string
  description: string
  project_id: string
  user_id: string
  size: number
  status: string
  bootable: boolean
  volume_type: string
  availability_zone: string
  source_volid: string | null
  snapshot_id: string | null
  image_id: string | null
  metadata: Record<string, string>
  attachments: Array<VolumeAttachment>
  host: string
  created_at: string
  updated_at: string
  /** The backend reference it was managed from (manage-existing). */
  managed_ref: Record<string, unknown> | null
  sim_seq: number
}

export interface Snapshot {
  id: string
  name: string
  description: string
  volume_id: string
  project_id: string
  size: number
  status: string
  metadata: Record<string, string>
  created_at: string
  updated_at: string
  sim_seq: number
}

export interface Image {
  id: string
  name: string
  status: string
  visibility: string
  owner: string
  size: number
  disk_format: string
  container_format: string
  min_disk: number
  min_ram: number
  tags: Array<string>
  created_at: string
  updated_at: string
  sim_seq: number
}

export interface Quotas {
  instances: number
  cores: number
  ram: number
  volumes: number
  gigabytes: number
  networks: number
  ports: number
  floatingips: number
  security_groups: number
}

export interface RequestRecord {
  readonly at: number
  readonly method: string
  /** The URL path as sent, without the query. */
  readonly path: string
  readonly query: string
  readonly service: ServiceName | "unknown"
  /** The path below the service's versioned root, e.g. `/servers/<id>/action`. */
  readonly route: string
  readonly region: string
  readonly interface: string
  /** HTTP status; 0 when the connection was left hanging or closed. */
  readonly status: number
  readonly requestId: string
  /** `OpenStack-API-Version` as sent. */
  readonly apiVersionHeader: string | undefined
  /** `X-OpenStack-Nova-API-Version` as sent. */
  readonly novaApiVersionHeader: string | undefined
  /** Which injected fault shaped the answer, if any. */
  readonly fault: "fail" | "timeout-after-side-effect" | "close-after-side-effect" | "delay" | undefined
}
