// CNCF distribution (Debian's `docker-registry`), as the e2e tests and the benchmarks run it:
// its configuration file, and its access log read back as requests.

/**
 * A config.yml: filesystem storage under `dataDir`, deletes allowed, no auth, listening on
 * 127.0.0.1:`port`. `accessLog`: write one line per request to stdout. `proxyOf`: run as a
 * pull-through cache of that registry URL (`proxy.remoteurl`; read-only).
 */
export function distributionConfig({ dataDir, port, accessLog = true, proxyOf = null }) {
  return [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    `    disabled: ${!accessLog}`,
    "storage:",
    "  cache:",
    "    blobdescriptor: inmemory",
    "  filesystem:",
    `    rootdirectory: ${dataDir}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    ...(proxyOf === null ? [] : ["proxy:", `  remoteurl: ${proxyOf}`]),
    "",
  ].join("\n");
}

// One line of the access log (Apache combined format, on stdout):
// 127.0.0.1 - - [28/Nov/2026:23:31:42 +0000] "GET /v2/x/manifests/y?ns=z HTTP/1.1" 404 91 "" "curl/7.88.1"
const ACCESS_LINE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"/;

/** The requests an access log records, in order: [{ method, path, status, bytes, userAgent }]. */
export function parseAccessLog(text) {
  return text
    .split("\n")
    .map((line) => ACCESS_LINE.exec(line))
    .filter((match) => match !== null)
    .map(([, method, path, status, bytes, userAgent]) => ({ method, path, status: Number(status), bytes: bytes === "-" ? 0 : Number(bytes), userAgent }));
}
