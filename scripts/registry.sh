# Sourced by postgres.sh and kafka.sh: which checkout started the service on a port, so that a
# second checkout (a worktree, a fresh clone) reuses it instead of failing on a port in use.
#
# One file per service and port, ${INGEST_SERVICES_REGISTRY:-${TMPDIR:-/tmp}/ingest-services-UID}/
# SERVICE-PORT.env: OWNER_DIR=<the --dir that started it>, then the KEY=value lines `start`
# prints. Mode 0600 in a 0700 directory: the Kafka lines hold the test broker's SASL password.
# A file whose service no longer answers is stale and ignored; `stop` removes its owner's files.

REGISTRY_DIR=${INGEST_SERVICES_REGISTRY:-${TMPDIR:-/tmp}/ingest-services-$(id -u)}

registry_file() { echo "$REGISTRY_DIR/$1-$2.env"; }

# register SERVICE PORT OWNER_DIR <lines
register() {
    local file tmp
    mkdir -p "$REGISTRY_DIR" && chmod 0700 "$REGISTRY_DIR"
    file=$(registry_file "$1" "$2")
    tmp=$(mktemp "$file.XXXXXX")
    { echo "OWNER_DIR=$3"; cat; } >"$tmp"
    chmod 0600 "$tmp"
    mv -f "$tmp" "$file"
}

# registered_owner SERVICE PORT: the --dir that started it; fails when nothing is registered.
registered_owner() {
    local file
    file=$(registry_file "$1" "$2")
    [[ -r $file ]] || return 1
    sed -n 's/^OWNER_DIR=//p' "$file" | head -n 1 | grep .
}

# registered_lines SERVICE PORT: what its `start` printed.
registered_lines() {
    local file
    file=$(registry_file "$1" "$2")
    [[ -r $file ]] || return 1
    grep -v '^OWNER_DIR=' "$file"
}

# unregister SERVICE OWNER_DIR: forget every port this --dir registered.
unregister() {
    local file
    for file in "$REGISTRY_DIR/$1"-*.env; do
        [[ -f $file ]] || continue
        grep -qxF "OWNER_DIR=$2" "$file" && rm -f "$file"
    done
    return 0
}
