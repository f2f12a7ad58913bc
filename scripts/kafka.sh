#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for dev and tests.
#
#   scripts/kafka.sh start  [--dir DIR] [--port PORT] [--controller-port CPORT]
#   scripts/kafka.sh stop   [--dir DIR]
#   scripts/kafka.sh status [--dir DIR]
#
# DIR defaults to <repo>/.services/kafka, PORT to 19092, CPORT to 19093. A relative --dir is taken
# relative to the current directory. `start` prints exactly one line on stdout,
# KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT; all progress goes to stderr.
#
# The broker's jars are resolved from Maven Central (scripts/kafka/pom.xml) once into
# ${KAFKA_LIB_DIR:-<repo>/.services/kafka-lib}, shared by every DIR. The cache is complete only
# when it holds .complete with the pom's sha256; a changed pom re-resolves it.
#
# Storage is formatted once per DIR (DIR/data); stop + start keeps topics and messages.
# Files in DIR: server.properties, log4j2.properties (rewritten at each start), cluster.id,
# data/ (log.dirs), kafka.log (broker output; the previous run's is kept as kafka.log.prev),
# kafka.pid.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
POM="$SCRIPT_DIR/kafka/pom.xml"
LIB_DIR=${KAFKA_LIB_DIR:-$REPO_ROOT/.services/kafka-lib}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=30

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/kafka.sh start  [--dir DIR] [--port PORT] [--controller-port CPORT]
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
    # $1 = port. The log line is written after the broker is unfenced and serving.
    grep -q 'Kafka Server started' "$DIR/kafka.log" 2>/dev/null && api_versions_ok "$1"
}

configured_port() {
    sed -n 's#^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\)$#\1#p' "$DIR/server.properties" 2>/dev/null
}

# ---------------------------------------------------------------- config

write_config() {
    cat >"$DIR/server.properties" <<EOF
# Written by scripts/kafka.sh at each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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
    [[ -f $DIR/data/meta.properties ]] && return 0
    local id
    if [[ -s $DIR/cluster.id ]]; then
        id=$(cat "$DIR/cluster.id")
    else
        # Cluster id: 16 random bytes, base64url, no padding (what `kafka-storage random-uuid` gives).
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        echo "$id" >"$DIR/cluster.id"
    fi
    rm -rf "$DIR/data"   # a half-formatted dir would make `format` refuse
    log "formatting storage in $DIR/data (cluster id $id)"
    # With a static controller.quorum.voters, -t and -c are enough (no --standalone, which is
    # for dynamic quorums configured through controller.quorum.bootstrap.servers).
    # No log4j2 config here: Log4j's default (errors only) keeps the config dump out of stderr.
    "$JAVA" -Xmx256m -cp "$LIB_DIR/*" kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" >&2 \
        || die "kafka-storage format failed"
}

# ---------------------------------------------------------------- subcommands

cmd_start() {
    local pid t0 now
    t0=$(date +%s%N)
    mkdir -p "$DIR"
    exec 9>"$DIR/.lock"
    flock 9

    if pid=$(broker_pid); then
        local running_port
        running_port=$(configured_port)
        [[ -n $running_port ]] || running_port=$PORT
        if broker_ready "$running_port"; then
            log "already running (pid $pid) on 127.0.0.1:$running_port"
            [[ $running_port == "$PORT" ]] || log "warning: running on port $running_port, not $PORT"
            echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$running_port"
            return 0
        fi
        log "process $pid is alive but not ready yet; waiting for it"
        PORT=$running_port
    else
        rm -f "$DIR/kafka.pid"
        port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process"
        port_open "$CPORT" && die "127.0.0.1:$CPORT (controller) is already in use by another process"
        find_java
        ensure_lib
        write_config
        format_storage
        [[ -f $DIR/kafka.log ]] && mv -f "$DIR/kafka.log" "$DIR/kafka.log.prev"
        log "starting broker on 127.0.0.1:$PORT (controller $CPORT), dir $DIR"
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
        broker_ready "$PORT" && break
        if ((SECONDS >= deadline)); then
            log "not ready after ${START_TIMEOUT}s; last lines of $DIR/kafka.log:"
            tail -n 40 "$DIR/kafka.log" >&2 || true
            die "Kafka did not become ready (pid $pid still running; stop it with: $0 stop --dir $DIR)"
        fi
        sleep 0.2
    done
    now=$(date +%s%N)
    log "ready (pid $pid) in $(((now - t0) / 1000000)) ms"
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$PORT"
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
    log "stopped"
}

cmd_status() {
    local pid port
    if pid=$(broker_pid 2>/dev/null); then
        port=$(configured_port)
        log "running (pid $pid) on 127.0.0.1:${port:-?}"
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
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) [[ $# -ge 2 ]] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#*=}; shift ;;
        --port) [[ $# -ge 2 ]] || usage; PORT=$2; shift 2 ;;
        --port=*) PORT=${1#*=}; shift ;;
        --controller-port) [[ $# -ge 2 ]] || usage; CPORT=$2; shift 2 ;;
        --controller-port=*) CPORT=${1#*=}; shift ;;
        -h|--help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done
[[ $PORT =~ ^[0-9]+$ && $CPORT =~ ^[0-9]+$ ]] || die "ports must be numbers"
[[ $PORT != "$CPORT" ]] || die "--port and --controller-port must differ"
DIR=$(realpath -m -- "$DIR")

case $CMD in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
esac
