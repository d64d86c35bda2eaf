# The JetStream part of scripts/bench-ingest (`--backend jetstream`; issue 12, item 7), `source`d by
# it after bench-lib.sh. One run on 127.0.0.1, side by side for each concurrency:
#  * bare: the `wazzup-load jetstream-publish` publisher (async-nats, publish + ack, 1 KB payloads,
#    a unique Nats-Msg-Id each, the same number in flight): this backend's ceiling;
#  * nats ×1: one gateway with `events.backend = "nats"` on a `nats-server -js` (temp store);
#  * nats ×2: two gateway processes on the same nats-server and stream (the ×1 gateway and a second
#    one started for the run), the posts split between them (half the concurrency and half the
#    webhooks each, at once);
#  * embedded: the default backend (redb), for reference;
#  * http ceiling: `wazzup-load sink`, a plain HTTP server answering 200 without storing (what
#    any backend's webhook ingest is bounded by on this machine);
#  * with BENCH_GATEWAY_BASELINE=PATH, the same nats ×1 and ×2 runs with that binary (the build
#    before a change) on a stream of its own, alternated with the current build's, and after/before
#    ratios.
# Then ingest → subscriber latency (webhooks at a fixed rate, 1 or 100 Subscribe streams) on the
# nats gateway (and the baseline) beside the embedded one.
# Each concurrency's runs are repeated BENCH_JETSTREAM_ROUNDS times (default 1), the order of the
# builds alternating between rounds; every round is a row, its ratios measured within the round.

nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_server" ] || { echo "nats-server is missing: apt-get install nats-server" >&2; exit 1; }
readonly JS_CONCURRENCIES=${BENCH_INGEST_CONCURRENCY:-32 128}
readonly JS_ROUNDS=${BENCH_JETSTREAM_ROUNDS:-1}
readonly BASELINE=${BENCH_GATEWAY_BASELINE:-}

js_port=$(free_port)
js_monitor_port=$(free_port)
mkdir -p "$workdir/nats-store"
"$nats_server" -js -a 127.0.0.1 -p "$js_port" -m "$js_monitor_port" -sd "$workdir/nats-store" \
    >"$workdir/nats-js.log" 2>&1 &
js_pid=$!
background_pids+=("$js_pid")
wait_http "http://127.0.0.1:$js_monitor_port/healthz?js-enabled-only=true" \
    || { cat "$workdir/nats-js.log" >&2; exit 1; }
readonly JS_URL="nats://127.0.0.1:$js_port"

declare -A gw_pid gw_url gw_grpc
# start_gateway NAME BINARY BACKEND [STREAM]: starts a gateway (sandbox account) and waits until ready.
start_gateway() {
    local name=$1 binary=$2 backend=$3 stream=${4:-}
    local grpc_addr="127.0.0.1:$(free_port)" webhook_port admin_port
    webhook_port=$(free_port)
    admin_port=$(free_port)
    local -a env=(WGW_ACCOUNT_SANDBOX_WEBHOOK_SECRET="$SECRET" WGW_LOG=warn)
    if [ "$backend" = nats ]; then
        env+=(WGW_EVENTS_BACKEND=nats WGW_NATS_URL="$JS_URL" WGW_NATS_STREAM="$stream"
            WGW_NATS_EVENT_IDS_BUCKET="${stream}_ids" WGW_NATS_CONSUMERS_BUCKET="${stream}_consumers"
            WGW_NATS_IDEMPOTENCY_BUCKET="${stream}_idempotency"
            WGW_NATS_RATE_BUDGET_BUCKET="${stream}_rate")
    fi
    env "${env[@]}" "$binary" --sandbox --grpc-listen "$grpc_addr" \
        --webhook-listen "127.0.0.1:$webhook_port" --admin-listen "127.0.0.1:$admin_port" \
        --data-dir "$workdir/data-$name" >"$workdir/gateway-$name.log" 2>&1 &
    gw_pid[$name]=$!
    background_pids+=("${gw_pid[$name]}")
    gw_url[$name]="http://127.0.0.1:$webhook_port/webhooks/sandbox/$SECRET"
    gw_grpc[$name]=$grpc_addr
    wait_http "http://127.0.0.1:$admin_port/readyz" || { cat "$workdir/gateway-$name.log" >&2; exit 1; }
}

stop_gateway() { # NAME
    kill "${gw_pid[$1]}" 2>/dev/null && wait "${gw_pid[$1]}" 2>/dev/null || true
}

declare -A js_result js_cpu
# ingest_into KEY NAME CONCURRENCY: closed-loop posts to one gateway; CPU µs/webhook of it and of nats-server.
ingest_into() {
    local key=$1 name=$2 concurrency=$3 line before after nats_before nats_after
    echo "==> ingest into $name, concurrency $concurrency, $REQUESTS webhooks" >&2
    before=$(cpu_ticks "${gw_pid[$name]}")
    nats_before=$(cpu_ticks "$js_pid")
    line=$("$LOAD" ingest --target "${gw_url[$name]}" --concurrency "$concurrency" \
        --requests "$REQUESTS" --max-seconds "$MAX_SECONDS")
    after=$(cpu_ticks "${gw_pid[$name]}")
    nats_after=$(cpu_ticks "$js_pid")
    echo "$line" >&2
    js_result[$key]=$line
    js_cpu[$key]=$(cpu_us_per $((after - before)) $(($(field "$line" requests) + 100)))
    js_cpu[nats$key]=$(cpu_us_per $((nats_after - nats_before)) $(($(field "$line" requests) + 100)))
}

# ingest_two KEY NAME CONCURRENCY: gateway NAME and a second replica of the same build on its stream
# (started for this run), the posts split between them and sent at once.
ingest_two() {
    local key=$1 name=$2 concurrency=$3 half_c half_n nats_before nats_after
    start_gateway "${name}-second" "${build_binary[$name]}" nats "${build_stream[$name]}"
    half_c=$(((concurrency + 1) / 2))
    half_n=$((REQUESTS / 2))
    echo "==> ingest into two replicas of $name, concurrency $half_c + $half_c, $half_n + $half_n webhooks" >&2
    nats_before=$(cpu_ticks "$js_pid")
    "$LOAD" ingest --target "${gw_url[$name]}" --concurrency "$half_c" --requests "$half_n" \
        --max-seconds "$MAX_SECONDS" >"$workdir/$key-a.json" &
    local first=$!
    "$LOAD" ingest --target "${gw_url[${name}-second]}" --concurrency "$half_c" \
        --requests "$half_n" --max-seconds "$MAX_SECONDS" >"$workdir/$key-b.json" &
    wait $! "$first"
    nats_after=$(cpu_ticks "$js_pid")
    stop_gateway "${name}-second"
    # Both halves run at once: the total is all posts over the longer half's time.
    js_result[$key]=$(jq -cs '{requests: (.[0].requests + .[1].requests),
        seconds: ([.[0].seconds, .[1].seconds] | max),
        rps: ((.[0].requests + .[1].requests) / ([.[0].seconds, .[1].seconds] | max)),
        p50_ms: ([.[0].p50_ms, .[1].p50_ms] | max), p99_ms: ([.[0].p99_ms, .[1].p99_ms] | max),
        errors: (.[0].errors + .[1].errors)}' "$workdir/$key-a.json" "$workdir/$key-b.json")
    echo "${js_result[$key]}" >&2
    js_cpu[nats$key]=$(cpu_us_per $((nats_after - nats_before)) $(($(field "${js_result[$key]}" requests) + 200)))
}

sink_into() { # KEY CONCURRENCY
    local key=$1 concurrency=$2 line
    echo "==> ingest into the plain-200 sink, concurrency $concurrency, $REQUESTS webhooks" >&2
    line=$("$LOAD" ingest --target "$JS_SINK_URL" --concurrency "$concurrency" \
        --requests "$REQUESTS" --max-seconds "$MAX_SECONDS")
    echo "$line" >&2
    js_result[$key]=$line
}

bare_into() { # KEY CONCURRENCY
    local key=$1 concurrency=$2 line nats_before nats_after
    echo "==> bare JetStream publisher, concurrency $concurrency, $REQUESTS messages" >&2
    nats_before=$(cpu_ticks "$js_pid")
    line=$("$LOAD" jetstream-publish --url "$JS_URL" --stream WGW_BENCH_BARE \
        --concurrency "$concurrency" --messages "$REQUESTS" --max-seconds "$MAX_SECONDS")
    nats_after=$(cpu_ticks "$js_pid")
    echo "$line" >&2
    js_result[$key]=$line
    js_cpu[nats$key]=$(cpu_us_per $((nats_after - nats_before)) $(($(field "$line" requests) + 100)))
}

builds=(new)
[ -n "$BASELINE" ] && builds+=(old)
declare -A build_binary=([new]=$GATEWAY [old]=$BASELINE) build_stream=([new]=WGW_BENCH_NEW [old]=WGW_BENCH_OLD)

js_sink_port=$(free_port)
"$LOAD" sink --listen "127.0.0.1:$js_sink_port" >"$workdir/js-sink.log" 2>&1 &
background_pids+=($!)
readonly JS_SINK_URL="http://127.0.0.1:$js_sink_port/webhooks/sandbox/$SECRET"
wait_port() { # PORT: until something listens
    for _ in $(seq 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
wait_port "$js_sink_port" || { cat "$workdir/js-sink.log" >&2; exit 1; }

start_gateway embedded "$GATEWAY" embedded
for build in "${builds[@]}"; do
    start_gateway "$build" "${build_binary[$build]}" nats "${build_stream[$build]}"
done
for concurrency in $JS_CONCURRENCIES; do
    for round in $(seq "$JS_ROUNDS"); do
        order=("${builds[@]}")
        # Alternate which build goes first, so drift in the machine's load favours neither.
        [ $((round % 2)) -eq 0 ] && [ ${#builds[@]} -eq 2 ] && order=(old new)
        k="$concurrency-$round"
        bare_into "bare$k" "$concurrency"
        sink_into "sink$k" "$concurrency"
        for build in "${order[@]}"; do
            ingest_into "$build$k" "$build" "$concurrency"
            ingest_two "${build}2$k" "$build" "$concurrency"
        done
        ingest_into "embedded$k" embedded "$concurrency"
    done
done

declare -A js_latency
for subscribers in $SUBSCRIBERS; do
    for name in embedded "${builds[@]}"; do
        echo "==> latency on $name, $subscribers subscribers, $LATENCY_REQUESTS webhooks at $RATE/s" >&2
        line=$("$LOAD" latency --webhook-url "${gw_url[$name]}" --grpc "${gw_grpc[$name]}" \
            --subscribers "$subscribers" --rate "$RATE" --requests "$LATENCY_REQUESTS")
        echo "$line" >&2
        js_latency[$name$subscribers]=$line
    done
done

jof() { field "${js_result[$1]}" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "| concurrency | round | bare JetStream msgs/s | http ceiling webhooks/s | nats ×1 webhooks/s | nats ×1 / bare | nats ×1 / http ceiling | nats ×2 webhooks/s | ×2 / ×1 | embedded webhooks/s | bare p50 / p99 ms | nats ×1 p50 / p99 ms | nats ×2 p50 / p99 ms | gateway CPU µs/webhook (×1) | nats-server CPU µs/msg (bare / ×1 / ×2) | errors (bare/×1/×2/embedded) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for concurrency in $JS_CONCURRENCIES; do
    for round in $(seq "$JS_ROUNDS"); do
        k="$concurrency-$round" b="bare$concurrency-$round"
        for build in "${builds[@]}"; do
            one="$build$k" two="${build}2$k"
            label=$concurrency
            [ ${#builds[@]} -eq 2 ] && label="$concurrency ($build build)"
            printf '| %s | %s | %.0f | %.0f | %.0f | %s | %s | %.0f | %s | %.0f | %s / %s | %s / %s | %s / %s | %s | %s / %s / %s | %s/%s/%s/%s |\n' \
                "$label" "$round" "$(jof "$b" rps)" "$(jof "sink$k" rps)" "$(jof "$one" rps)" \
                "$(ratio "$(jof "$one" rps)" "$(jof "$b" rps)")" \
                "$(ratio "$(jof "$one" rps)" "$(jof "sink$k" rps)")" "$(jof "$two" rps)" \
                "$(ratio "$(jof "$two" rps)" "$(jof "$one" rps)")" "$(jof "embedded$k" rps)" \
                "$(fmt3 "$(jof "$b" p50_ms)")" "$(fmt3 "$(jof "$b" p99_ms)")" \
                "$(fmt3 "$(jof "$one" p50_ms)")" "$(fmt3 "$(jof "$one" p99_ms)")" \
                "$(fmt3 "$(jof "$two" p50_ms)")" "$(fmt3 "$(jof "$two" p99_ms)")" \
                "${js_cpu[$one]}" "${js_cpu[nats$b]}" "${js_cpu[nats$one]}" "${js_cpu[nats$two]}" \
                "$(jof "$b" errors)" "$(jof "$one" errors)" "$(jof "$two" errors)" "$(jof "embedded$k" errors)"
        done
    done
done

if [ ${#builds[@]} -eq 2 ]; then
    echo
    echo "| concurrency | round | nats ×1 after / before | nats ×2 after / before |"
    echo "|---:|---:|---:|---:|"
    for concurrency in $JS_CONCURRENCIES; do
        for round in $(seq "$JS_ROUNDS"); do
            k="$concurrency-$round"
            printf '| %s | %s | %s | %s |\n' "$concurrency" "$round" \
                "$(ratio "$(jof "new$k" rps)" "$(jof "old$k" rps)")" \
                "$(ratio "$(jof "new2$k" rps)" "$(jof "old2$k" rps)")"
        done
    done
fi

echo
echo "| backend | subscribers | target rate/s | achieved rate/s | deliveries | missing | p50 ms | p99 ms | p99.9 ms | max ms | post (200) p50 ms | post (200) p99 ms | post errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for subscribers in $SUBSCRIBERS; do
    for name in embedded "${builds[@]}"; do
        l=${js_latency[$name$subscribers]}
        label=$name
        [ "$name" = new ] && label=nats
        [ "$name" = old ] && label="nats (baseline build)"
        printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$label" "$subscribers" "$(field "$l" rate)" "$(field "$l" achieved_rate)" \
            "$(field "$l" deliveries)" "$(field "$l" missing)" \
            "$(fmt3 "$(field "$l" p50_ms)")" "$(fmt3 "$(field "$l" p99_ms)")" \
            "$(fmt3 "$(field "$l" p999_ms)")" "$(fmt3 "$(field "$l" max_ms)")" \
            "$(fmt3 "$(field "$l" post_p50_ms)")" "$(fmt3 "$(field "$l" post_p99_ms)")" \
            "$(field "$l" errors)"
    done
done
