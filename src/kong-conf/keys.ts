/**
 * Which property names Kong knows, as far as this module needs to tell: the keys it types (spec §3) and the
 * common properties of Kong's defaults template (`Kong/kong: kong/templates/kong_defaults.lua`). The list is
 * used only for `unknown-key` (info) and `case-mismatch` (warning) diagnostics, never to change a value.
 */
import type { KongProfile } from './versions.js';

const COMMON_KEYS = `prefix log_level proxy_access_log proxy_error_log proxy_stream_access_log proxy_stream_error_log
admin_access_log admin_error_log admin_gui_access_log admin_gui_error_log status_access_log status_error_log
vaults plugins port_maps host_ports anonymous_reports proxy_server proxy_server_ssl_verify error_template_html
error_template_json error_template_xml error_template_plain node_id proxy_listen stream_listen admin_listen
admin_gui_listen admin_gui_url admin_gui_path admin_gui_api_url status_listen debug_listen cluster_listen
cluster_control_plane cluster_cert cluster_cert_key cluster_mtls cluster_ca_cert cluster_server_name
cluster_data_plane_purge_delay cluster_ocsp cluster_max_payload cluster_use_proxy cluster_dp_labels
cluster_telemetry_listen cluster_telemetry_endpoint cluster_telemetry_server_name lmdb_environment_path
lmdb_map_size mem_cache_size ssl_cert ssl_cert_key client_ssl client_ssl_cert client_ssl_cert_key
ssl_cipher_suite ssl_ciphers ssl_protocols ssl_prefer_server_ciphers ssl_dhparam ssl_session_tickets
ssl_session_timeout ssl_session_cache_size admin_ssl_cert admin_ssl_cert_key admin_gui_ssl_cert
admin_gui_ssl_cert_key status_ssl_cert status_ssl_cert_key headers headers_upstream trusted_ips
error_default_type upstream_keepalive_pool_size upstream_keepalive_max_requests upstream_keepalive_idle_timeout
allow_debug_header nginx_user nginx_worker_processes nginx_daemon nginx_main_daemon nginx_main_user
nginx_main_worker_processes nginx_main_worker_rlimit_nofile nginx_events_worker_connections
nginx_events_multi_accept nginx_http_charset nginx_http_client_max_body_size nginx_http_client_body_buffer_size
nginx_http_ssl_protocols nginx_http_ssl_prefer_server_ciphers nginx_http_ssl_dhparam nginx_http_ssl_session_tickets
nginx_http_ssl_session_timeout nginx_stream_ssl_protocols nginx_stream_ssl_prefer_server_ciphers
nginx_stream_ssl_dhparam nginx_stream_ssl_session_tickets nginx_stream_ssl_session_timeout
nginx_proxy_real_ip_header nginx_proxy_real_ip_recursive nginx_admin_client_max_body_size
nginx_admin_client_body_buffer_size nginx_http_lua_regex_match_limit nginx_http_lua_regex_cache_max_entries
client_body_buffer_size real_ip_header real_ip_recursive database pg_host pg_port pg_database pg_schema pg_timeout
pg_user pg_password pg_iam_auth pg_ssl pg_ssl_required pg_ssl_verify pg_ssl_version pg_ssl_cert pg_ssl_cert_key
pg_max_concurrent_queries pg_semaphore_timeout pg_keepalive_timeout pg_pool_size pg_backlog pg_ro_host pg_ro_port
pg_ro_database pg_ro_schema pg_ro_timeout pg_ro_user pg_ro_password pg_ro_ssl pg_ro_ssl_required pg_ro_ssl_verify
pg_ro_ssl_version pg_ro_max_concurrent_queries pg_ro_semaphore_timeout pg_ro_keepalive_timeout pg_ro_pool_size
pg_ro_backlog declarative_config declarative_config_string db_update_frequency db_update_propagation db_cache_ttl
db_cache_neg_ttl db_resurrect_ttl db_cache_warmup_entities dns_resolver dns_hostsfile dns_order dns_valid_ttl
dns_stale_ttl dns_cache_size dns_not_found_ttl dns_error_ttl dns_no_sync new_dns_client resolver_address
resolver_hosts_file resolver_family resolver_valid_ttl resolver_stale_ttl resolver_error_ttl resolver_lru_cache_size
resolver_mem_cache_size worker_consistency worker_state_update_frequency worker_events_max_payload router_flavor
lua_socket_pool_size lua_ssl_trusted_certificate lua_ssl_verify_depth lua_ssl_protocols lua_package_path
lua_package_cpath role kic pluginserver_names untrusted_lua untrusted_lua_sandbox_requires
untrusted_lua_sandbox_environment legacy_worker_events openresty_path opentelemetry_tracing
opentelemetry_tracing_sampling_rate tracing_instrumentations tracing_sampling_rate wasm wasm_filters
wasm_filters_path request_debug request_debug_token dedicated_config_processing cluster_rpc
cluster_rpc_sync cluster_full_sync_threshold cluster_cjson`;

const LEGACY_GO_KEYS = ['go_plugins_dir', 'go_pluginserver_exe'];

const known = new Set(COMMON_KEYS.split(/\s+/).filter((key) => key.length > 0));
const knownTwoX = new Set([...known, ...LEGACY_GO_KEYS, 'cassandra_contact_points', 'cassandra_port']);

/** Kong's dynamic namespace for plugin-server keys (`Kong/kong: kong/conf_loader/constants.lua`). */
export const PLUGINSERVER_KEY = /^pluginserver_[\s\S]/;

/** Whether `key` is kept by Kong's loader under `profile`: a known property or a dynamic key (spec P5, P6). */
export function isKnownOrDynamic(key: string, profile: KongProfile): boolean {
  if (PLUGINSERVER_KEY.test(key)) return true;
  return (profile === '2.3' || profile === '2.4-2.8' ? knownTwoX : known).has(key);
}

/** The legacy Go plugin-server keys (Kong 2.x only). */
export function isLegacyGoKey(key: string): boolean {
  return LEGACY_GO_KEYS.includes(key);
}
