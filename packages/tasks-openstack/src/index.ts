/**
 * OpenStack task handlers, REST client, recovery-plan builder and simulator
 * (SPEC §6). Not built yet: this package is the skeleton the OpenStack work
 * fills in.
 *
 * @since 0.1.0
 */
export {}
