#!/usr/bin/env bash
# Real PROXY protocol senders, captured on loopback.
#
#   tests/peers/capture.sh OUTDIR
#
# Points real senders (curl --haproxy-protocol, HAProxy 2.6 "send-proxy",
# "send-proxy-v2" with and without TLS and TLVs, HAProxy's health checks,
# nginx 1.22's stream proxy_protocol) at capture_server.py, which saves the
# bytes of each connection as OUTDIR/NAME.bin with OUTDIR/NAME.peer.json.
# For each case it writes OUTDIR/NAME.meta.json: what the header MUST say,
# known from the sending side (the client's fixed --local-port / -bind, the
# address and port the client connected to, the configured TLVs), and where
# the application bytes the client sent are recorded (curl --trace, or the
# payload file). check_captures.py BUILD_DIR OUTDIR then checks the parser.
#
# Everything runs as plain processes on free loopback ports, with config
# files in a temporary directory; every process started is stopped on exit.
# A case whose peer is missing or fails is reported on stderr and skipped
# (no meta file), so check_captures.py counts it as a failure only when it
# is in its list of required cases.
set -u

OUT=${1:?usage: capture.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/peers/common.sh
. "$HERE/common.sh"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT/cases.list"
TMP=$(mktemp -d /tmp/pphdr-peers.XXXXXX)
PIDS=()
FAILED=()

trap stop_all EXIT
trap 'exit 130' INT TERM

say() { printf 'capture: %s\n' "$*" >&2; }

case_failed() {
    say "FAILED $1: $2"
    FAILED+=("$1")
}

# Wait (at most $2 s) until file $1 exists.
wait_file() {
    local i n=$(($2 * 20))
    for ((i = 0; i < n; i++)); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# Wait (at most $2 s) until process $1 has exited; kill it after that.
wait_pid() {
    local i n=$(($2 * 20))
    for ((i = 0; i < n; i++)); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
        sleep 0.05
    done
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 1
}

stop_pid() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# cap_start NAME HOST [MAXCONNS] [IDLE]: start a capture listener for case
# NAME; sets CAP_PORT and CAP_PID.
cap_start() {
    local name=$1 host=$2 max=${3:-1} idle=${4:-2}
    rm -f "$OUT/$name".* "$TMP/$name.port"
    echo "$name" >> "$OUT/cases.list"
    python3 "$HERE/capture_server.py" --host "$host" --prefix "$OUT/$name" \
        --port-file "$TMP/$name.port" --max-conns "$max" --idle "$idle" \
        --timeout 20 &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    if ! wait_file "$TMP/$name.port" 5; then
        return 1
    fi
    CAP_PORT=$(cat "$TMP/$name.port")
}

# cap_finish NAME: wait for the capture of case NAME to be complete.
cap_finish() {
    wait_pid "$CAP_PID" 15
    [ -e "$OUT/$1.peer.json" ]
}

# meta NAME key=value...: write OUTDIR/NAME.meta.json. Values of version,
# sport, dport and log_sport are numbers, tlv_types a comma list of numbers.
meta() {
    python3 - "$OUT/$1.meta.json" "$@" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
m = {"name": name}
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    if k in ("version", "sport", "dport", "log_sport", "crc32c",
             "ssl_client", "ssl_verify"):
        v = int(v)
    elif k == "tlv_types":
        v = [int(x) for x in v.split(",") if x]
    m[k] = v
with open(path, "w") as f:
    json.dump(m, f, indent=1, sort_keys=True)
    f.write("\n")
PY
}

HAPROXY_VERSION=$(haproxy -v 2>/dev/null | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
NGINX_VERSION=$(nginx -v 2>&1 | sed -n 's|^nginx version: nginx/||p')
CURL_VERSION=$(curl --version 2>/dev/null | sed -n '1s/^curl \([^ ]*\).*/\1/p')

# --- TLS material, made now: a CA, a server certificate for pp.test and a
# client certificate with CN pp-client, all EC P-256.
make_certs() {
    local d=$TMP/pki ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
    mkdir -p "$d"
    openssl req -x509 "${ec[@]}" -nodes -days 2 -subj /CN=pphdr-test-ca \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
    openssl req -x509 "${ec[@]}" -nodes -days 2 -subj /CN=pp.test \
        -addext subjectAltName=DNS:pp.test -addext basicConstraints=CA:FALSE \
        -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -keyout "$d/srv.key" -out "$d/srv.crt" 2>/dev/null &&
    openssl req -x509 "${ec[@]}" -nodes -days 2 -subj /CN=pp-client \
        -addext extendedKeyUsage=clientAuth -addext basicConstraints=CA:FALSE \
        -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -keyout "$d/cli.key" -out "$d/cli.crt" 2>/dev/null &&
    cat "$d/srv.crt" "$d/srv.key" > "$d/srv.pem"
}

# --- HAProxy -------------------------------------------------------------
# hap_cfg NAME BODY: a config with global/defaults and one listen section;
# the log line "PPLOG ..." names the client address/port HAProxy saw.
hap_cfg() {
    cat > "$TMP/$1.cfg" <<EOF
global
    log stdout format raw local0
    nbthread 1
    tune.ssl.default-dh-param 2048
defaults
    mode tcp
    log global
    log-format "PPLOG %ci %cp %fi %fp %sslv %sslc %ID"
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout check 2s
$2
EOF
}

# hap_start NAME PORT: run HAProxy on config NAME, wait for PORT to listen.
hap_start() {
    haproxy -f "$TMP/$1.cfg" -db > "$TMP/$1.hlog" 2>&1 &
    HAP_PID=$!
    PIDS+=("$HAP_PID")
    wait_listen "$2"
}

# The "PPLOG" line of HAProxy's log for case NAME (waits up to 5 s).
hap_log() {
    local i
    for ((i = 0; i < 100; i++)); do
        if grep -q '^PPLOG ' "$TMP/$1.hlog" 2>/dev/null; then
            grep -m1 '^PPLOG ' "$TMP/$1.hlog"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# curl_http NAME URL LPORT [curl options]: one HTTP/1.1 GET from the first
# free local port in LPORT..LPORT+20 (another process may have taken LPORT
# since it was picked), recording what curl sent in NAME.trace. CURL_LPORT
# gets the port curl used.
curl_http() {
    local name=$1 url=$2 lport=$3 used
    CURL_LPORT=
    shift 3
    used=$(curl -sS --max-time 8 --http1.1 --local-port "$lport-$((lport + 20))" \
        --trace "$OUT/$name.trace" -o "$TMP/$name.body" -w '%{local_port}' \
        "$@" "$url") || return 1
    CURL_LPORT=$used
}

# haproxy_plain NAME HOST SERVER-OPTIONS [BIND-OPTIONS]: curl -> HAProxy
# (TCP, on HOST) -> capture listener on 127.0.0.1.
haproxy_plain() {
    local name=$1 host=$2 sopts=$3 bopts=${4:-} fport lport url
    local client=${CLIENT:-$2}
    cap_start "$name" 127.0.0.1 || { case_failed "$name" "listener"; return; }
    fport=$(free_port "$host")
    hap_cfg "$name" "listen $name
    bind $host:$fport $bopts
    unique-id-format ppuid-%ci-%cp-%fp
    server s1 127.0.0.1:$CAP_PORT $sopts"
    hap_start "$name" "$fport" || { case_failed "$name" "haproxy start"; return; }
    lport=$(free_port "$client")
    case $client in *:*) url="http://[$client]:$fport/$name" ;;
                    *) url="http://$client:$fport/$name" ;; esac
    curl_http "$name" "$url" "$lport" -g ||
        case_failed "$name" "curl through haproxy"
    lport=${CURL_LPORT:-$lport}
    cap_finish "$name" || case_failed "$name" "no capture"
    HLOG=$(hap_log "$name")
    stop_pid "$HAP_PID"
    FPORT=$fport LPORT=$lport
}

case_haproxy_v1_tcp4() {
    local n=haproxy26-v1-tcp4
    haproxy_plain $n 127.0.0.1 send-proxy
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="curl -> haproxy listen (mode tcp) -> server send-proxy" \
        version=1 command=PROXY family=TCP4 src=127.0.0.1 sport="$LPORT" \
        dst=127.0.0.1 dport="$FPORT" app=trace log_sport="$(echo "$HLOG" | cut -d' ' -f3)"
}

case_haproxy_v1_tcp6() {
    local n=haproxy26-v1-tcp6
    haproxy_plain $n ::1 send-proxy
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="curl -> haproxy listen on ::1 (mode tcp) -> server send-proxy" \
        version=1 command=PROXY family=TCP6 src=::1 sport="$LPORT" \
        dst=::1 dport="$FPORT" app=trace log_sport="$(echo "$HLOG" | cut -d' ' -f3)"
}

# A dual-stack listener: the IPv4 client is seen as ::ffff:127.0.0.1.
case_haproxy_v1_mapped() {
    local n=haproxy26-v1-tcp6-mapped
    CLIENT=127.0.0.1 haproxy_plain $n :: send-proxy v4v6
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="curl over IPv4 -> haproxy bind :::PORT v4v6 (mode tcp) -> server send-proxy" \
        version=1 command=PROXY family=TCP6 src=::ffff:127.0.0.1 sport="$LPORT" \
        dst=::ffff:127.0.0.1 dport="$FPORT" app=trace \
        log_sport="$(echo "$HLOG" | cut -d' ' -f3)"
}

case_haproxy_v2_tcp4() {
    local n=haproxy26-v2-tcp4
    haproxy_plain $n 127.0.0.1 send-proxy-v2
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="curl -> haproxy listen (mode tcp) -> server send-proxy-v2" \
        version=2 command=PROXY family=TCP4 src=127.0.0.1 sport="$LPORT" \
        dst=127.0.0.1 dport="$FPORT" app=trace tlv_types= \
        log_sport="$(echo "$HLOG" | cut -d' ' -f3)"
}

case_haproxy_v2_tcp6() {
    local n=haproxy26-v2-tcp6
    haproxy_plain $n ::1 send-proxy-v2
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="curl -> haproxy listen on ::1 (mode tcp) -> server send-proxy-v2" \
        version=2 command=PROXY family=TCP6 src=::1 sport="$LPORT" \
        dst=::1 dport="$FPORT" app=trace tlv_types= \
        log_sport="$(echo "$HLOG" | cut -d' ' -f3)"
}

case_haproxy_v2_crc_uid() {
    local n=haproxy26-v2-crc-uid-tcp4
    haproxy_plain $n 127.0.0.1 "send-proxy-v2 proxy-v2-options crc32c,unique-id"
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="curl -> haproxy listen (mode tcp, unique-id-format ppuid-%ci-%cp-%fp) -> server send-proxy-v2 proxy-v2-options crc32c,unique-id" \
        version=2 command=PROXY family=TCP4 src=127.0.0.1 sport="$LPORT" \
        dst=127.0.0.1 dport="$FPORT" app=trace tlv_types=3,5 crc32c=1 \
        unique_id="ppuid-127.0.0.1-$LPORT-$FPORT" \
        log_sport="$(echo "$HLOG" | cut -d' ' -f3)"
}

SSL_OPTS="send-proxy-v2 proxy-v2-options crc32c,unique-id,ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority"

# haproxy_ssl NAME: HAProxy with a TLS frontend that asks for a client
# certificate; sets FPORT and CAP_PORT, starts the listener.
haproxy_ssl() {
    local name=$1 pki=$TMP/pki
    cap_start "$name" 127.0.0.1 1 0.5 || return 1
    FPORT=$(free_port 127.0.0.1)
    hap_cfg "$name" "listen $name
    bind 127.0.0.1:$FPORT ssl crt $pki/srv.pem alpn h2,http/1.1 verify optional ca-file $pki/ca.pem
    unique-id-format ppuid-%ci-%cp-%fp
    server s1 127.0.0.1:$CAP_PORT $SSL_OPTS"
    hap_start "$name" "$FPORT"
}

ssl_meta() {
    local n=$1 alpn=$2 lport=$3 how=$4
    local sslv sslc
    sslv=$(echo "$HLOG" | cut -d' ' -f6)
    sslc=$(echo "$HLOG" | cut -d' ' -f7)
    meta $n peer="haproxy $HAPROXY_VERSION" how="$how" \
        version=2 command=PROXY family=TCP4 src=127.0.0.1 sport="$lport" \
        dst=127.0.0.1 dport="$FPORT" tlv_types=3,1,2,5,32 crc32c=1 \
        alpn="$alpn" authority=pp.test unique_id="ppuid-127.0.0.1-$lport-$FPORT" \
        ssl_client=7 ssl_verify=0 ssl_cn=pp-client ssl_version="$sslv" ssl_cipher="$sslc" \
        ssl_key_alg=EC256 ssl_sig_alg=ecdsa-with-SHA256 \
        log_sport="$(echo "$HLOG" | cut -d' ' -f3)" "${@:5}"
}

# TLS with ALPN http/1.1: curl with SNI pp.test and a client certificate.
case_haproxy_v2_ssl_curl() {
    local n=haproxy26-v2-ssl-crc lport pki=$TMP/pki
    haproxy_ssl $n || { case_failed $n "haproxy start"; return; }
    lport=$(free_port 127.0.0.1)
    curl_http $n "https://pp.test:$FPORT/$n" "$lport" \
        --resolve "pp.test:$FPORT:127.0.0.1" --cacert "$pki/ca.pem" \
        --cert "$pki/cli.crt" --key "$pki/cli.key" ||
        case_failed $n "curl through haproxy"
    lport=${CURL_LPORT:-$lport}
    cap_finish $n || case_failed $n "no capture"
    HLOG=$(hap_log $n)
    stop_pid "$HAP_PID"
    ssl_meta $n http/1.1 "$lport" \
        "curl --http1.1 (SNI pp.test, client cert CN pp-client) -> haproxy bind ssl alpn h2,http/1.1 verify optional (mode tcp) -> server $SSL_OPTS" \
        app=trace
}

# TLS with ALPN h2: openssl s_client sends the HTTP/2 preface and SETTINGS.
case_haproxy_v2_ssl_h2() {
    local n=haproxy26-v2-ssl-h2 lport pki=$TMP/pki
    haproxy_ssl $n || { case_failed $n "haproxy start"; return; }
    lport=$(free_port 127.0.0.1)
    printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\000\000\000\004\000\000\000\000\000' \
        > "$OUT/$n.payload"
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$FPORT" \
        -bind "127.0.0.1:$lport" -servername pp.test -alpn h2 \
        -CAfile "$pki/ca.pem" -cert "$pki/cli.crt" -key "$pki/cli.key" \
        < "$OUT/$n.payload" > "$TMP/$n.out" 2> "$TMP/$n.err" ||
        case_failed $n "s_client through haproxy"
    cap_finish $n || case_failed $n "no capture"
    HLOG=$(hap_log $n)
    stop_pid "$HAP_PID"
    ssl_meta $n h2 "$lport" \
        "openssl s_client -alpn h2 (SNI pp.test, client cert CN pp-client) sending the HTTP/2 preface -> haproxy bind ssl alpn h2,http/1.1 verify optional (mode tcp) -> server $SSL_OPTS" \
        app=payload
}

# Health checks: the check connection carries the header; for v2 it is LOCAL.
case_haproxy_check_v2() {
    local n=haproxy26-v2-local-check fport
    cap_start $n 127.0.0.1 1 1 || { case_failed $n "listener"; return; }
    fport=$(free_port 127.0.0.1)
    hap_cfg $n "listen $n
    bind 127.0.0.1:$fport
    option tcp-check
    tcp-check send PING\\r\\n
    server s1 127.0.0.1:$CAP_PORT $SSL_OPTS check check-send-proxy inter 200"
    hap_start $n "$fport" || { case_failed $n "haproxy start"; return; }
    cap_finish $n || case_failed $n "no capture"
    stop_pid "$HAP_PID"
    printf 'PING\r\n' > "$OUT/$n.payload"
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="haproxy health check: option tcp-check, tcp-check send PING\\r\\n, server check check-send-proxy $SSL_OPTS" \
        version=2 command=LOCAL family=UNSPEC app=payload tlv_types=3,32 \
        crc32c=1 ssl_client=0 ssl_verify=0
}

case_haproxy_check_v1() {
    local n=haproxy26-v1-check fport
    cap_start $n 127.0.0.1 1 1 || { case_failed $n "listener"; return; }
    fport=$(free_port 127.0.0.1)
    hap_cfg $n "listen $n
    bind 127.0.0.1:$fport
    server s1 127.0.0.1:$CAP_PORT send-proxy check check-send-proxy inter 200"
    hap_start $n "$fport" || { case_failed $n "haproxy start"; return; }
    cap_finish $n || case_failed $n "no capture"
    stop_pid "$HAP_PID"
    # The check connection's own endpoints, as the listener saw them.
    meta $n peer="haproxy $HAPROXY_VERSION" \
        how="haproxy layer-4 health check: server send-proxy check check-send-proxy" \
        version=1 command=PROXY family=TCP4 addresses=connection app=empty
}

# --- nginx stream --------------------------------------------------------
case_nginx() {
    local n=$1 host=$2 fam=$3 fport lport url dir=$TMP/nginx-$1
    cap_start "$n" 127.0.0.1 || { case_failed "$n" "listener"; return; }
    fport=$(free_port "$host")
    mkdir -p "$dir/logs"
    cat > "$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
error_log $dir/logs/error.log info;
pid $dir/nginx.pid;
events { worker_connections 64; }
stream {
    server {
        listen ${4}:$fport;
        proxy_pass 127.0.0.1:$CAP_PORT;
        proxy_protocol on;
    }
}
EOF
    nginx -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
        > "$dir/logs/stdout" 2>&1 &
    local ngx=$!
    PIDS+=("$ngx")
    wait_listen "$fport" || { case_failed "$n" "nginx start"; return; }
    lport=$(free_port "$host")
    url="http://$4:$fport/$n"
    curl_http "$n" "$url" "$lport" -g || case_failed "$n" "curl through nginx"
    lport=${CURL_LPORT:-$lport}
    cap_finish "$n" || case_failed "$n" "no capture"
    stop_pid "$ngx"
    meta "$n" peer="nginx $NGINX_VERSION" \
        how="curl -> nginx stream server (listen $4) -> proxy_pass with proxy_protocol on" \
        version=1 command=PROXY family="$fam" src="$host" sport="$lport" \
        dst="$host" dport="$fport" app=trace
}

# --- curl --haproxy-protocol straight to the listener ----------------------
case_curl() {
    local n=$1 host=$2 fam=$3 lport url
    cap_start "$n" "$host" || { case_failed "$n" "listener"; return; }
    lport=$(free_port "$host")
    case $host in *:*) url="http://[$host]:$CAP_PORT/$n" ;;
                  *) url="http://$host:$CAP_PORT/$n" ;; esac
    curl_http "$n" "$url" "$lport" -g --haproxy-protocol ||
        case_failed "$n" "curl"
    lport=${CURL_LPORT:-$lport}
    cap_finish "$n" || case_failed "$n" "no capture"
    meta "$n" peer="curl $CURL_VERSION" \
        how="curl --haproxy-protocol straight to the capture listener" \
        version=1 command=PROXY family="$fam" src="$host" sport="$lport" \
        dst="$host" dport="$CAP_PORT" app=trace
}

have() { command -v "$1" > /dev/null 2>&1; }

if have curl; then
    case_curl curl-v1-tcp4 127.0.0.1 TCP4
    case_curl curl-v1-tcp6 ::1 TCP6
else
    say "curl not found: curl cases skipped"
fi

if have haproxy && have curl && have openssl; then
    if make_certs; then
        case_haproxy_v2_ssl_curl
        case_haproxy_v2_ssl_h2
        case_haproxy_check_v2
    else
        case_failed haproxy-ssl "openssl could not make certificates"
    fi
    case_haproxy_v1_tcp4
    case_haproxy_v1_tcp6
    case_haproxy_v1_mapped
    case_haproxy_v2_tcp4
    case_haproxy_v2_tcp6
    case_haproxy_v2_crc_uid
    case_haproxy_check_v1
else
    say "haproxy, curl or openssl not found: haproxy cases skipped"
fi

if have nginx && have curl && [ -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
    case_nginx nginx122-v1-tcp4 127.0.0.1 TCP4 127.0.0.1
    case_nginx nginx122-v1-tcp6 ::1 TCP6 '[::1]'
else
    say "nginx with the stream module not found: nginx cases skipped"
fi

say "$(ls "$OUT"/*.meta.json 2>/dev/null | wc -l) cases captured in $OUT, ${#FAILED[@]} failed${FAILED:+: ${FAILED[*]}}"
[ ${#FAILED[@]} -eq 0 ]
