#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker and controller in one JVM) on 127.0.0.1, for
# development, tests and benchmarks. The jars come from Maven Central through Maven, once, into a
# cache folder; nothing else is downloaded.
#
#   bash scripts/kafka.sh up       # fetch the jars if needed, format storage, start, wait until it answers
#   bash scripts/kafka.sh down     # stop it (SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT s) and delete its data
#   bash scripts/kafka.sh stop     # stop it and keep its data: the next `up` restarts the same cluster
#   bash scripts/kafka.sh status   # exit 0 and print the bootstrap address when it answers, else exit 1
#   bash scripts/kafka.sh logs     # the broker's log (follow it with: tail -f "$(bash scripts/kafka.sh logfile)")
#   bash scripts/kafka.sh fetch    # only fetch the jars (e.g. to warm a CI cache)
#
# Environment:
#   KAFKA_VERSION      kafka_2.13 version from Maven Central (default 3.9.2)
#   KAFKA_PORT         client port (default 19092); the controller listens on KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1)
#   TRIBUTARY_CACHE    cache root (default $HOME/.cache/tributary): jars in kafka-<version>/libs,
#                      the running broker in kafka-run-<port>/ (server.properties, data/, kafka.log, kafka.pid)
#   KAFKA_HEAP_OPTS    JVM heap (default -Xms256m -Xmx1g)
#   KAFKA_START_TIMEOUT  seconds `up` waits for the broker to answer (default 120)
#   KAFKA_STOP_TIMEOUT   seconds `down` waits after SIGTERM before SIGKILL (default 30)
#
# `up` is idempotent: when the broker on that port already answers, it says so and returns.
# It prints the bootstrap address (127.0.0.1:<port>) as its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=${KAFKA_VERSION:-3.9.2}
port=${KAFKA_PORT:-19092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
cache=${TRIBUTARY_CACHE:-$HOME/.cache/tributary}
dist=$cache/kafka-$version
libs=$dist/libs
run=$cache/kafka-run-$port
data=$run/data
pidfile=$run/kafka.pid
logfile=$run/kafka.log
start_timeout=${KAFKA_START_TIMEOUT:-120}
stop_timeout=${KAFKA_STOP_TIMEOUT:-30}

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

need_java() {
  command -v java >/dev/null 2>&1 || die "Java 11+ is needed to run Kafka (java was not found on PATH); install a JDK, e.g. 'apt-get install openjdk-17-jre-headless'"
}

need_node() {
  command -v node >/dev/null 2>&1 || die "Node.js is needed for the readiness check (node was not found on PATH)"
}

# The jars: kafka_2.13 and its runtime dependencies, plus an SLF4J binding so the broker logs.
fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "Maven is needed once to fetch Kafka $version from Maven Central (mvn was not found on PATH); install it, e.g. 'apt-get install maven'"
  need_java
  say "fetching org.apache.kafka:kafka_2.13:$version and its dependencies from Maven Central into $libs"
  mkdir -p "$dist"
  rm -rf "$libs"
  cat >"$dist/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tributary.dev</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  if ! (cd "$dist" && mvn -q -B -f pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >"$dist/mvn.log" 2>&1); then
    tail -n 30 "$dist/mvn.log" >&2
    die "Maven could not fetch Kafka $version (full output in $dist/mvn.log)"
  fi
  ls "$libs"/kafka_2.13-"$version".jar >/dev/null 2>&1 || die "Maven ran but $libs has no kafka_2.13-$version.jar"
  touch "$libs/.complete"
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

answers() { node "$here/kafka-ready.mjs" "127.0.0.1:$port" 2000 2>/dev/null; }

write_config() {
  mkdir -p "$run"
  cat >"$run/server.properties" <<EOF
# Written by scripts/kafka.sh: one KRaft node, broker and controller, on 127.0.0.1 only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.segment.bytes=67108864
# Never delete by time: retention compares record timestamps (event time), and tests and
# benchmarks write records stamped years ago; this broker's data lives until 'down'.
log.retention.ms=-1
log.retention.bytes=-1
log.retention.check.interval.ms=300000
log.cleaner.backoff.ms=1000
delete.topic.enable=true
auto.create.topics.enable=true
EOF
  cat >"$run/log4j.properties" <<EOF
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
EOF
}

port_in_use() {
  ss -ltn 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$1\$"
}

up() {
  need_java
  need_node
  mkdir -p "$run"
  # One `up` at a time per port: test files may ask for the broker concurrently.
  exec 9>"$run/.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  local pid
  if pid=$(running_pid); then
    if answers; then
      say "already running (pid $pid) on 127.0.0.1:$port"
      echo "127.0.0.1:$port"
      return 0
    fi
    say "broker pid $pid is running but does not answer yet; waiting"
  else
    if answers; then
      die "something else already answers as a Kafka broker on 127.0.0.1:$port (not started by this script); set KAFKA_BROKERS=127.0.0.1:$port to use it, or KAFKA_PORT to start another"
    fi
    if port_in_use "$port" || port_in_use "$controller_port"; then
      die "port $port or $controller_port is already in use on this machine; choose another with KAFKA_PORT"
    fi
    fetch
    rm -f "$pidfile"
    if [ -f "$run/kept" ] && [ -d "$data" ]; then
      # restarted after `stop`: same data, same cluster (topics, offsets and transactions survive)
      say "restarting on the data kept by 'stop' in $data"
    else
      rm -rf "$data"
      write_config
      local cluster_id
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
      # --cluster-id=<id>, not "-t <id>": an id may start with '-' (1 in 64), which the tool's
      # argument parser would take for an option
      if ! java -cp "$libs/*" -Dlog4j.configuration="file:$run/log4j.properties" kafka.tools.StorageTool format \
        --cluster-id="$cluster_id" -c "$run/server.properties" --ignore-formatted >"$run/format.log" 2>&1; then
        cat "$run/format.log" >&2
        die "formatting the KRaft storage in $data failed"
      fi
      : >"$logfile"
    fi
    rm -f "$run/kept"
    # setsid: the broker outlives this shell and gets no signal meant for it.
    # shellcheck disable=SC2086
    setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$run/log4j.properties" -cp "$libs/*" kafka.Kafka "$run/server.properties" \
      >>"$logfile" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$pidfile"
    say "started Kafka $version (pid $pid) on 127.0.0.1:$port, log in $logfile"
  fi
  local deadline=$((SECONDS + start_timeout))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$logfile" >&2
      rm -f "$pidfile"
      die "the broker exited before it answered (log: $logfile)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$logfile" >&2
      die "the broker did not answer within ${start_timeout}s (still running as pid $pid; log: $logfile; stop it with: bash scripts/kafka.sh down)"
    fi
    sleep 0.5
  done
  say "ready on 127.0.0.1:$port"
  echo "127.0.0.1:$port"
}

down() {
  stop_broker
  rm -f "$pidfile" "$run/kept"
  rm -rf "$data"
}

# Stops the broker and keeps its data: the next `up` restarts the same cluster (broker-restart tests).
stop() {
  stop_broker
  rm -f "$pidfile"
  [ -d "$data" ] && touch "$run/kept"
  return 0
}

stop_broker() {
  mkdir -p "$run"
  exec 9>"$run/.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  local pid
  if pid=$(running_pid); then
    say "stopping the broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + stop_timeout))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        say "still running after ${stop_timeout}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  else
    say "not running on port $port"
  fi
}

status() {
  local pid
  if pid=$(running_pid) && answers; then
    say "running (pid $pid), Kafka $version on 127.0.0.1:$port"
    echo "127.0.0.1:$port"
  elif pid=$(running_pid); then
    say "pid $pid is running but does not answer on 127.0.0.1:$port"
    return 1
  else
    say "not running on port $port"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  stop) stop ;;
  status) status ;;
  logs) [ -f "$logfile" ] && cat "$logfile" || die "no log yet at $logfile" ;;
  logfile) echo "$logfile" ;;
  fetch) fetch && say "jars in $libs" ;;
  *) echo "usage: bash scripts/kafka.sh up|down|stop|status|logs|logfile|fetch" >&2; exit 2 ;;
esac
