#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for dev and tests.
#
#   scripts/kafka.sh start  [--dir DIR] [--port PORT] [--controller-port CPORT]
#                           [--sasl-port SPORT] [--advertised-port APORT]
#   scripts/kafka.sh stop   [--dir DIR]
#   scripts/kafka.sh status [--dir DIR]
#
# DIR defaults to <repo>/.services/kafka, PORT to 19092, CPORT to 19093. A relative --dir is taken
# relative to the current directory. `start` prints `KEY=value` lines on stdout (callers pick
# them by prefix; more keys may be added), all progress goes to stderr:
#   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:APORT            PLAINTEXT
#   KAFKA_SASL_SSL_BOOTSTRAP_SERVERS=127.0.0.1:SPORT   SASL_SSL, SCRAM-SHA-256 and SCRAM-SHA-512
#   KAFKA_SASL_USERNAME=ingest  KAFKA_SASL_PASSWORD=...
#   KAFKA_SSL_CAFILE=DIR/tls/ca.pem                    the CA that signed the broker certificate
#   KAFKA_SSL_CLIENT_CERTFILE=DIR/tls/client.pem  KAFKA_SSL_CLIENT_KEYFILE=DIR/tls/client.key
#   KAFKA_SSL_UNTRUSTED_CAFILE=DIR/tls/untrusted-ca.pem  a CA that did not sign it
#
# SASL_SSL listener: SPORT defaults to PORT+2 (the next free port above it if that is CPORT or
# taken; pass --sasl-port to pin it). Its certificate (SAN IP:127.0.0.1, DNS:localhost) comes from
# a throwaway CA made once per DIR in DIR/tls/; client certificates are requested, not required,
# and verified against that CA when sent. The SCRAM user and its password (random, made once per
# DIR, DIR/sasl.password) are written into the storage at format time, so a DIR formatted by an
# older kafka.sh (no DIR/scram.formatted) is reformatted once, losing its topics.
# --advertised-port APORT (default PORT): the PLAINTEXT listener still binds PORT but tells clients
# to use 127.0.0.1:APORT, so a test can put a TCP proxy on APORT in front of PORT.
#
# The broker's jars are resolved from Maven Central (scripts/kafka/pom.xml) once into
# ${KAFKA_LIB_DIR:-<repo>/.services/kafka-lib}, shared by every DIR. The cache is complete only
# when it holds .complete with the pom's sha256; a changed pom re-resolves it.
#
# Storage is formatted once per DIR (DIR/data); stop + start keeps topics and messages.
# Files in DIR: server.properties, log4j2.properties (rewritten at each start), cluster.id,
# data/ (log.dirs), kafka.log (broker output; the previous run's is kept as kafka.log.prev),
# kafka.pid, sasl.password, scram.formatted, tls/.
#
# Another checkout's broker: when PORT is taken by a broker this script started for another DIR
# (a worktree, a fresh clone) and it still answers, `start` prints that broker's lines and
# reuses it; `stop` here leaves it alone. A port taken by anything else fails at once, naming it.
# Which DIR started which port: scripts/registry.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
POM="$SCRIPT_DIR/kafka/pom.xml"
LIB_DIR=${KAFKA_LIB_DIR:-$REPO_ROOT/.services/kafka-lib}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=30
# shellcheck source=scripts/registry.sh
source "$SCRIPT_DIR/registry.sh"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/kafka.sh start  [--dir DIR] [--port PORT] [--controller-port CPORT]
                               [--sasl-port SPORT] [--advertised-port APORT]
       scripts/kafka.sh stop   [--dir DIR]
       scripts/kafka.sh status [--dir DIR]
EOF
    exit 2
}

# ---------------------------------------------------------------- tools

find_java() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        JAVA=$JAVA_HOME/bin/java
    elif command -v java >/dev/null 2>&1; then
        JAVA=$(command -v java)
    elif [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
        JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
    else
        log "java not found; installing openjdk-17-jre-headless"
        apt_install openjdk-17-jre-headless
        JAVA=$(command -v java)
    fi
}

apt_install() {
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

# ---------------------------------------------------------------- jar cache

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

lib_ready() {
    [[ -f $LIB_DIR/.complete && $(cat "$LIB_DIR/.complete") == "$(pom_hash)" ]]
}

ensure_lib() {
    lib_ready && return 0
    mkdir -p "$(dirname "$LIB_DIR")"
    # Serialise concurrent resolvers; the loser finds the cache complete once it gets the lock.
    exec 8>"$LIB_DIR.lock"
    flock 8
    if ! lib_ready; then
        command -v mvn >/dev/null 2>&1 || { log "mvn not found; installing maven"; apt_install maven; }
        log "resolving Kafka jars into $LIB_DIR (one-off)"
        local tmp="$LIB_DIR.tmp.$$"
        rm -rf "$tmp"
        # Run from the pom's dir so no stray target/ lands elsewhere.
        if ! (cd "$SCRIPT_DIR/kafka" && mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
                -DoutputDirectory="$tmp" >&2); then
            rm -rf "$tmp"
            die "mvn dependency:copy-dependencies failed"
        fi
        ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar resolved"; }
        pom_hash >"$tmp/.complete"
        rm -rf "$LIB_DIR"
        mv "$tmp" "$LIB_DIR"
    fi
    flock -u 8
    exec 8>&-
}

# ---------------------------------------------------------------- process helpers

# pid of our broker for $DIR if alive, else nothing (and non-zero).
broker_pid() {
    local pid
    [[ -f $DIR/kafka.pid ]] || return 1
    pid=$(cat "$DIR/kafka.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against pid reuse: the process must be a kafka.Kafka on this DIR's config.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $DIR/server.properties" || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A real protocol round trip: ApiVersions v0 (api_key 18, correlation id 7, null client id);
# the broker answers only once request processing is enabled. Expect correlation id 7, error 0.
api_versions_ok() {
    local resp
    # shellcheck disable=SC2016  # $1 expands in the inner shell
    resp=$(timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x07\xff\xff" >&3
        head -c 10 <&3 | od -An -tx1
    ' _ "$1" 2>/dev/null) || return 1
    resp=$(tr -d ' \n' <<<"$resp")
    [[ ${resp:8:12} == 000000070000 ]]
}

broker_ready() {
    # $1 = PLAINTEXT port the broker binds (never the advertised one: a test's proxy there may be
    # down), $2 = SASL_SSL port or empty (a broker started by an older kafka.sh has none).
    # The log line is written after the broker is unfenced and serving.
    grep -q 'Kafka Server started' "$DIR/kafka.log" 2>/dev/null && api_versions_ok "$1" \
        && { [[ -z $2 ]] || port_open "$2"; }
}

# Port of listener $2 (PLAINTEXT, SASL_SSL) in the $1 line (listeners, advertised.listeners) of the
# running config; nothing if absent. The config is what the live broker was started with, so this
# works for brokers started by an older kafka.sh too.
configured_port() {
    local line entry entries
    line=$(grep -m1 "^$1=" "$DIR/server.properties" 2>/dev/null) || return 0
    IFS=, read -ra entries <<<"${line#*=}"
    for entry in "${entries[@]}"; do
        if [[ $entry =~ ^$2://[^:]*:([0-9]+)$ ]]; then
            echo "${BASH_REMATCH[1]}"
            return 0
        fi
    done
}

# ---------------------------------------------------------------- credentials and certificates

SASL_USER=ingest

# 32 hex digits. Hex only: the secrets end up in --add-scram's [name=...,password=...] syntax and
# in server.properties, where ',' ']' '=' or '\' would need quoting.
random_secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# Write $2 to file $1 with mode 600, atomically (a reader never sees it empty).
write_secret() {
    (umask 077 && printf '%s\n' "$2" >"$1.tmp.$$") && mv -f "$1.tmp.$$" "$1"
}

ensure_sasl_password() {
    if [[ ! -s $DIR/sasl.password ]]; then
        log "creating the SCRAM password for $SASL_USER in $DIR/sasl.password"
        write_secret "$DIR/sasl.password" "$(random_secret)"
    fi
    SASL_PASSWORD=$(cat "$DIR/sasl.password")
    [[ $SASL_PASSWORD =~ ^[A-Za-z0-9]+$ ]] \
        || die "$DIR/sasl.password must hold letters and digits only (delete it to get a new one)"
}

# openssl, quiet unless it fails (key generation prints progress dots on stderr).
ossl() {
    local err
    if ! err=$(openssl "$@" 2>&1 >/dev/null); then
        printf '%s\n' "$err" >&2
        return 1
    fi
}

# Key + certificate $2.key/$2.pem in dir $1, subject $3, extensions section $4, signed by $1/ca.
leaf_cert() {
    ossl req -new -config "$1/openssl.cnf" -newkey rsa:2048 -nodes -subj "$3" \
        -keyout "$1/$2.key" -out "$1/$2.csr" || return 1
    ossl x509 -req -in "$1/$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -set_serial "0x$(random_secret)" \
        -days 3650 -sha256 -extfile "$1/openssl.cnf" -extensions "$4" -out "$1/$2.pem" || return 1
    rm -f "$1/$2.csr"
}

# All of DIR/tls in dir $1. Every step is checked by hand: set -e does not apply inside a function
# whose status is tested. Extensions are spelled out (CA key usage, SKI/AKI, EKU) so that strict
# verifiers (Python 3.13's VERIFY_X509_STRICT, Java) accept the chain too.
make_certs() {
    cat >"$1/openssl.cnf" <<'EOF' || return 1
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF
    ossl req -x509 -config "$1/openssl.cnf" -extensions ca_ext -newkey rsa:2048 -nodes -sha256 \
        -days 3650 -subj "/CN=kafka.sh throwaway CA" -keyout "$1/ca.key" -out "$1/ca.pem" || return 1
    # Same shape, different key: a well-formed CA that simply is not the broker's issuer.
    ossl req -x509 -config "$1/openssl.cnf" -extensions ca_ext -newkey rsa:2048 -nodes -sha256 \
        -days 3650 -subj "/CN=kafka.sh untrusted CA" \
        -keyout "$1/untrusted-ca.key" -out "$1/untrusted-ca.pem" || return 1
    leaf_cert "$1" broker "/CN=localhost" server_ext || return 1
    leaf_cert "$1" client "/CN=$SASL_USER" client_ext || return 1
    write_secret "$1/keystore.password" "$(random_secret)" || return 1
    # The CA goes into the keystore too, so the broker sends the whole chain.
    ossl pkcs12 -export -name broker -in "$1/broker.pem" -inkey "$1/broker.key" -certfile "$1/ca.pem" \
        -passout "file:$1/keystore.password" -out "$1/broker.p12" || return 1
    chmod 600 "$1"/*.key "$1/broker.p12" || return 1
}

# DIR/tls is made whole in a temporary dir and renamed, so a failed or interrupted run never leaves
# a half set behind; .complete marks a finished one.
ensure_tls() {
    TLS_DIR=$DIR/tls
    if [[ ! -f $TLS_DIR/.complete ]]; then
        command -v openssl >/dev/null 2>&1 || { log "openssl not found; installing it"; apt_install openssl; }
        log "creating a throwaway CA and broker/client certificates in $TLS_DIR (one-off)"
        local tmp=$DIR/tls.tmp
        rm -rf "$tmp"
        mkdir -m 700 "$tmp"
        make_certs "$tmp" || { rm -rf "$tmp"; die "creating the certificates failed"; }
        touch "$tmp/.complete"
        rm -rf "$TLS_DIR"
        mv "$tmp" "$TLS_DIR"
    fi
    KEYSTORE_PASSWORD=$(cat "$TLS_DIR/keystore.password")
}

# What DIR/scram.formatted holds once the storage carries the current credentials. A digest, not
# the password: it only has to change when the password does.
scram_marker() { printf 'v1 %s:%s\n' "$SASL_USER" "$SASL_PASSWORD" | sha256sum | cut -d' ' -f1; }

# KEY=value lines for the clients; $1 = advertised PLAINTEXT port, $2 = SASL_SSL port or empty.
print_endpoints() {
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$1"
    # Only the PLAINTEXT line then: callers that need SASL_SSL fail on the missing key, and the
    # warning in their captured stderr says why.
    if [[ -z $2 ]]; then
        log "warning: this broker was started by an older kafka.sh and has no SASL_SSL listener;" \
            "restart it ($0 stop --dir $DIR, then start) to get one"
        return 0
    fi
    if [[ ! -s $DIR/sasl.password || ! -f $DIR/tls/.complete ]]; then
        log "warning: $DIR/sasl.password or $DIR/tls was removed under the running broker;" \
            "restart it ($0 stop --dir $DIR, then start) to make new ones"
        return 0
    fi
    echo "KAFKA_SASL_SSL_BOOTSTRAP_SERVERS=127.0.0.1:$2"
    echo "KAFKA_SASL_USERNAME=$SASL_USER"
    echo "KAFKA_SASL_PASSWORD=$(cat "$DIR/sasl.password")"
    echo "KAFKA_SSL_CAFILE=$DIR/tls/ca.pem"
    echo "KAFKA_SSL_CLIENT_CERTFILE=$DIR/tls/client.pem"
    echo "KAFKA_SSL_CLIENT_KEYFILE=$DIR/tls/client.key"
    echo "KAFKA_SSL_UNTRUSTED_CAFILE=$DIR/tls/untrusted-ca.pem"
}

# ---------------------------------------------------------------- config

write_config() {
    # Mode 600, also for a file an older kafka.sh made: it holds the keystore password.
    rm -f "$DIR/server.properties"
    (umask 077 && cat >"$DIR/server.properties") <<EOF
# Written by scripts/kafka.sh at each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SPORT,CONTROLLER://127.0.0.1:$CPORT
# PLAINTEXT may be advertised on another port than it binds (--advertised-port, for a test's proxy).
advertised.listeners=PLAINTEXT://127.0.0.1:$APORT,SASL_SSL://127.0.0.1:$SPORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
# SASL_SSL is for clients only; the SCRAM credentials are created by kafka-storage format --add-scram.
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.key.password=$KEYSTORE_PASSWORD
# Client certificates are optional; one that is sent must chain to our CA. On a SASL_SSL listener
# only the listener-prefixed ssl.client.auth counts (KIP-684).
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
listener.name.sasl_ssl.ssl.client.auth=requested
log.dirs=$DIR/data
num.partitions=3
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# Fewer internal partitions than the default 50: the first consumer group / transaction
# creates them all, which costs seconds on a small machine.
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a SIGKILL the restarted broker cannot register until its old session expires
# (default 9 s); keep that short.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
    cat >"$DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
}

format_storage() {
    local id marker
    marker=$(scram_marker)
    if [[ -f $DIR/data/meta.properties ]]; then
        [[ -f $DIR/scram.formatted && $(cat "$DIR/scram.formatted") == "$marker" ]] && return 0
        # SCRAM users live in the metadata log and --add-scram works only at format time.
        log "storage in $DIR/data lacks the current SCRAM credentials (formatted by an older" \
            "kafka.sh, or sasl.password changed): reformatting it; its topics and messages are lost"
    fi
    rm -f "$DIR/scram.formatted"
    id=$(cat "$DIR/cluster.id" 2>/dev/null || true)
    # Cluster id: 16 random bytes, base64url, no padding (what `kafka-storage random-uuid` gives),
    # never starting with "-": the storage tool would read such an id as an option and refuse
    # (Kafka's own Uuid.randomUuid draws again for the same reason; one run in 64 met it here).
    while [[ -z $id || $id == -* ]]; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    echo "$id" >"$DIR/cluster.id"
    rm -rf "$DIR/data"   # a half-formatted dir would make `format` refuse
    log "formatting storage in $DIR/data (cluster id $id)"
    # With a static controller.quorum.voters, -t and -c are enough (no --standalone, which is
    # for dynamic quorums configured through controller.quorum.bootstrap.servers).
    # No log4j2 config here: Log4j's default (errors only) keeps the config dump out of stderr.
    "$JAVA" -Xmx256m -cp "$LIB_DIR/*" kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" \
        --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" \
        --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]" >&2 \
        || die "kafka-storage format failed"
    echo "$marker" >"$DIR/scram.formatted"
}

# Default SASL_SSL port: PORT+2, or the next one up that is neither another of our ports nor taken
# (callers that pick free PORT and CPORT at random do not know about SPORT).
pick_sasl_port() {
    SPORT=$((PORT + 2))
    while [[ $SPORT == "$PORT" || $SPORT == "$CPORT" || $SPORT == "$APORT" ]] || port_open "$SPORT"; do
        SPORT=$((SPORT + 1))
        ((SPORT <= 65535)) || die "no free port for the SASL_SSL listener above $PORT; pass --sasl-port"
    done
}

# ---------------------------------------------------------------- subcommands

cmd_start() {
    local pid t0 now
    t0=$(date +%s%N)
    mkdir -p "$DIR"
    exec 9>"$DIR/.lock"
    flock 9

    if pid=$(broker_pid); then
        # The live broker's own config says where it is; the command line may differ.
        local run_port run_aport run_sport
        run_port=$(configured_port listeners PLAINTEXT)
        [[ -n $run_port ]] || run_port=$PORT
        run_aport=$(configured_port advertised.listeners PLAINTEXT)
        [[ -n $run_aport ]] || run_aport=$run_port
        run_sport=$(configured_port listeners SASL_SSL)
        if broker_ready "$run_port" "$run_sport"; then
            log "already running (pid $pid) on 127.0.0.1:$run_port" \
                "(advertised $run_aport, SASL_SSL ${run_sport:-none})"
            [[ $run_port == "$PORT" ]] || log "warning: running on port $run_port, not $PORT"
            [[ $run_aport == "$APORT" ]] || log "warning: advertising port $run_aport, not $APORT"
            [[ -z $SPORT || $run_sport == "$SPORT" ]] \
                || log "warning: SASL_SSL on port ${run_sport:-none}, not $SPORT"
            print_endpoints "$run_aport" "$run_sport" 2>/dev/null | register kafka "$run_port" "$DIR"
            print_endpoints "$run_aport" "$run_sport"
            return 0
        fi
        log "process $pid is alive but not ready yet; waiting for it"
        PORT=$run_port APORT=$run_aport SPORT=$run_sport
    else
        rm -f "$DIR/kafka.pid"
        if port_open "$PORT"; then
            reuse_running_broker
            return 0
        fi
        port_open "$CPORT" && die "127.0.0.1:$CPORT (controller) is already in use by another process"
        if [[ -n $SPORT ]]; then
            port_open "$SPORT" && die "127.0.0.1:$SPORT (SASL_SSL) is already in use by another process"
        else
            pick_sasl_port
        fi
        find_java
        ensure_lib
        ensure_sasl_password
        ensure_tls
        write_config
        format_storage
        [[ -f $DIR/kafka.log ]] && mv -f "$DIR/kafka.log" "$DIR/kafka.log.prev"
        log "starting broker on 127.0.0.1:$PORT (advertised $APORT, SASL_SSL $SPORT, controller $CPORT)," \
            "dir $DIR"
        # setsid: own session, so the caller's Ctrl-C / process group does not hit the broker.
        # All fds redirected: a caller capturing our stdout (subprocess.run) must not hang on it.
        # shellcheck disable=SC2016  # $$ and $1 expand in the inner shell
        setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$DIR/kafka.pid" \
            "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
            -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
            -cp "$LIB_DIR/*" kafka.Kafka "$DIR/server.properties" \
            </dev/null >"$DIR/kafka.log" 2>&1 9>&- &
        # Wait for the pid file written by the child.
        for _ in $(seq 50); do [[ -s $DIR/kafka.pid ]] && break; sleep 0.1; done
    fi

    local deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! pid=$(broker_pid); then
            log "broker process exited during startup; last lines of $DIR/kafka.log:"
            tail -n 40 "$DIR/kafka.log" >&2 || true
            die "Kafka failed to start"
        fi
        broker_ready "$PORT" "$SPORT" && break
        if ((SECONDS >= deadline)); then
            log "not ready after ${START_TIMEOUT}s; last lines of $DIR/kafka.log:"
            tail -n 40 "$DIR/kafka.log" >&2 || true
            die "Kafka did not become ready (pid $pid still running; stop it with: $0 stop --dir $DIR)"
        fi
        sleep 0.2
    done
    now=$(date +%s%N)
    log "ready (pid $pid) in $(((now - t0) / 1000000)) ms"
    print_endpoints "$APORT" "$SPORT" 2>/dev/null | register kafka "$PORT" "$DIR"
    print_endpoints "$APORT" "$SPORT"
}

# PORT is taken. When another checkout's kafka.sh started a broker there and it still answers,
# hand out that broker's endpoints and credentials: the tests make topics of their own per run.
reuse_running_broker() {
    local owner lines sasl
    if owner=$(registered_owner kafka "$PORT") && lines=$(registered_lines kafka "$PORT") \
            && api_versions_ok "$PORT"; then
        sasl=$(sed -n 's/^KAFKA_SASL_SSL_BOOTSTRAP_SERVERS=127.0.0.1://p' <<<"$lines")
        if [[ -z $sasl ]] || port_open "$sasl"; then
            log "127.0.0.1:$PORT is the broker that $owner started; reusing it." \
                "It keeps running; stop it with: $0 stop --dir $owner"
            echo "$lines"
            return 0
        fi
    fi
    die "127.0.0.1:$PORT is already in use by another process, and it is not a broker this" \
        "script started for another checkout; pass --port PORT, or set KAFKA_BOOTSTRAP_SERVERS"
}

cmd_stop() {
    local pid
    [[ -d $DIR ]] || { log "not running ($DIR does not exist)"; return 0; }
    exec 9>"$DIR/.lock"
    flock 9
    if ! pid=$(broker_pid); then
        rm -f "$DIR/kafka.pid"
        log "not running"
        return 0
    fi
    log "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
            break
        fi
        sleep 0.2
    done
    rm -f "$DIR/kafka.pid"
    unregister kafka "$DIR"
    log "stopped"
}

cmd_status() {
    local pid port aport sport
    if pid=$(broker_pid 2>/dev/null); then
        port=$(configured_port listeners PLAINTEXT)
        aport=$(configured_port advertised.listeners PLAINTEXT)
        sport=$(configured_port listeners SASL_SSL)
        local where=127.0.0.1:${port:-?} sasl="SASL_SSL 127.0.0.1:$sport"
        # Clients use the advertised address; say so when it is not the bound one.
        [[ -n $aport && $aport != "$port" ]] \
            && where="127.0.0.1:$aport (advertised; the broker binds 127.0.0.1:$port)"
        [[ -n $sport ]] || sasl="no SASL_SSL listener (started by an older kafka.sh)"
        log "running (pid $pid) on $where, $sasl"
        return 0
    fi
    log "not running"
    return 1
}

# ---------------------------------------------------------------- main

[[ $# -ge 1 ]] || usage
CMD=$1
shift
DIR=$REPO_ROOT/.services/kafka
PORT=19092
CPORT=19093
SPORT=    # empty: picked by pick_sasl_port
APORT=    # empty: PORT
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) [[ $# -ge 2 ]] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#*=}; shift ;;
        --port) [[ $# -ge 2 ]] || usage; PORT=$2; shift 2 ;;
        --port=*) PORT=${1#*=}; shift ;;
        --controller-port) [[ $# -ge 2 ]] || usage; CPORT=$2; shift 2 ;;
        --controller-port=*) CPORT=${1#*=}; shift ;;
        --sasl-port) [[ $# -ge 2 ]] || usage; SPORT=$2; shift 2 ;;
        --sasl-port=*) SPORT=${1#*=}; shift ;;
        --advertised-port) [[ $# -ge 2 ]] || usage; APORT=$2; shift 2 ;;
        --advertised-port=*) APORT=${1#*=}; shift ;;
        -h|--help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done
APORT=${APORT:-$PORT}
for p in "$PORT" "$CPORT" "$APORT" ${SPORT:+"$SPORT"}; do
    # No leading zero: bash arithmetic would read it as octal.
    if ! [[ $p =~ ^[1-9][0-9]{0,4}$ ]] || ((p > 65535)); then
        die "ports must be numbers from 1 to 65535, not '$p'"
    fi
done
[[ $PORT != "$CPORT" ]] || die "--port and --controller-port must differ"
if [[ -n $SPORT ]]; then
    [[ $SPORT != "$PORT" && $SPORT != "$CPORT" ]] || die "--sasl-port must differ from --port and --controller-port"
    [[ $SPORT != "$APORT" ]] || die "--sasl-port and --advertised-port must differ"
fi
# APORT == PORT is the normal case; any other value is a port the broker does not bind but a
# proxy will, so it must not be one the broker binds itself.
[[ $APORT == "$PORT" || $APORT != "$CPORT" ]] || die "--advertised-port must differ from --controller-port"
DIR=$(realpath -m -- "$DIR")

case $CMD in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
esac
