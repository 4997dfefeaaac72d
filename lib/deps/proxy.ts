// The platform connection's proxy lookup (lib/wire/proxy.ts): reads exactly HTTPS_PROXY,
// HTTP_PROXY, ALL_PROXY, NO_PROXY (upper and lower case). Small: the supervisor loads it to
// grant the proxy's host.
export { getProxyForUrl } from "npm:proxy-from-env@2.1.0";
