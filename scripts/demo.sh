#!/usr/bin/env bash
# The demo: a topology on the embedded log with generated orders, start to finish.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.tributary/demo
tributary() { node bin/tributary.js "$@"; }

rm -rf "$state"
echo "== 1. create the input topic (4 partitions) in the embedded log under $state"
tributary topics --state-dir "$state" --create orders --partitions 4

echo "== 2. produce 2000 generated orders, and 2 records that are not JSON"
node --import tsx examples/generate-orders.ts --count 2000 --seed 42 | tributary produce orders --state-dir "$state"
printf '%s\n' '{"key":"c001","value":"{\"orderId\": \"broken-1\""}' '{"key":"c002","value":"not json at all"}' \
  | tributary produce orders --state-dir "$state" --value-serde string

echo "== 3. the topology"
tributary describe topologies/order-router.ts

echo "== 4. run it until it has processed everything"
tributary run topologies/order-router.ts --state-dir "$state" --until-idle

echo "== 5. results"
tributary topics --state-dir "$state"
echo "-- first 3 large orders:"
tributary tail large-orders --state-dir "$state" --from-beginning --max 3
echo "-- dead-lettered records:"
tributary tail orders-dlq --state-dir "$state" --from-beginning --exit-at-end

echo "== 6. a stateful topology on the same orders: totals per customer, orders per country and 10 minutes"
tributary run topologies/order-stats.ts --state-dir "$state" --until-idle --log-level warn
echo "-- orders per country and 10 minutes (final counts, emitted as each window closed):"
tributary tail orders-per-country-10min --state-dir "$state" --from-beginning --exit-at-end --value-serde int32 | head -n 8
echo "-- customer c001's running totals (the last line is the current value, also in store 'customer-totals'):"
tributary tail customer-totals --state-dir "$state" --from-beginning --exit-at-end | grep '"key":"c001"' | tail -n 3
