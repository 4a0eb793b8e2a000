#!/usr/bin/env bash
# pphdr's writer as the sender, real receivers on loopback.
#
#   tests/peers/receivers.sh BUILD_DIR
#
# Builds tests/peers/ppsend.c against BUILD_DIR's libpphdr (unless the build
# already has BUILD_DIR/tests/peers/ppsend), starts HAProxy 2.6 ("bind ...
# accept-proxy", mode http) and nginx 1.22 ("listen ... proxy_protocol"),
# each on a free IPv4 and IPv6 loopback port, and has ppsend send headers
# written by pp_write_v1 / pp_write_v2 followed by an HTTP request. Both
# receivers answer with what they understood from the header:
#   HAProxy: src= sport= dst= dport= authority= uid=  (after accept-proxy,
#            %[src] etc. are the header's addresses, or the connection's
#            own for LOCAL / UNKNOWN)
#   nginx:   src= sport= dst= dport= (the $proxy_protocol_* variables,
#            empty without addresses) real= rport= (the connection's own)
# and each answer is compared with what the header must mean. Headers sent
# with a corrupted CRC32C must be refused by HAProxy, which checks it.
# Ends with "receivers: N passed, M failed"; exit status 1 on any failure.
set -u

BUILD=${1:?usage: receivers.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/peers/common.sh
. "$HERE/common.sh"
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
TMP=$(mktemp -d /tmp/pphdr-recv.XXXXXX)
PIDS=()
PASSED=0
FAILED=0

trap stop_all EXIT
trap 'exit 130' INT TERM

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL $1"
    shift
    local line
    for line in "$@"; do
        echo "     $line"
    done
}

finish() {
    echo "receivers: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit
}

# --- ppsend ----------------------------------------------------------------
# Built by meson (tests/meson.build); a build without it is an error.
PPSEND=$BUILD/tests/ppsend
if [ ! -x "$PPSEND" ]; then
    fail "ppsend" "$PPSEND is missing: build with meson first"
    finish
fi

# --- receivers -----------------------------------------------------------
HAP4=$(free_port 127.0.0.1)
HAP6=$(free_port ::1)
cat > "$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:$HAP4 accept-proxy
    bind ::1:$HAP6 accept-proxy
    http-request return status 200 content-type text/plain lf-string "src=%[src] sport=%[src_port] dst=%[dst] dport=%[dst_port] authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]\n"
EOF
HAVE_HAPROXY=0
if command -v haproxy > /dev/null; then
    haproxy -f "$TMP/haproxy.cfg" -db > "$TMP/haproxy.log" 2>&1 &
    PIDS+=($!)
    if wait_listen "$HAP4" && wait_listen "$HAP6"; then
        HAVE_HAPROXY=1
    else
        fail "start haproxy" "$(cat "$TMP/haproxy.log")"
    fi
else
    fail "start haproxy" "haproxy not installed"
fi

NGX4=$(free_port 127.0.0.1)
NGX6=$(free_port ::1)
mkdir -p "$TMP/nginx/logs"
cat > "$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $TMP/nginx/logs/error.log info;
pid $TMP/nginx/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NGX4 proxy_protocol;
        listen [::1]:$NGX6 proxy_protocol;
        location / {
            default_type text/plain;
            return 200 "src=\$proxy_protocol_addr sport=\$proxy_protocol_port dst=\$proxy_protocol_server_addr dport=\$proxy_protocol_server_port real=\$remote_addr rport=\$remote_port\n";
        }
    }
}
EOF
HAVE_NGINX=0
if command -v nginx > /dev/null; then
    nginx -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" \
        -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
        > "$TMP/nginx/logs/stdout" 2>&1 &
    PIDS+=($!)
    if wait_listen "$NGX4" && wait_listen "$NGX6"; then
        HAVE_NGINX=1
    else
        fail "start nginx" "$(cat "$TMP/nginx/logs/"*)"
    fi
else
    fail "start nginx" "nginx not installed"
fi

# go-proxyproto, built from Debian's golang-github-pires-go-proxyproto-dev.
HAVE_GO=0
GODIR=/usr/share/gocode
if command -v go > /dev/null && [ -d "$GODIR/src/github.com/pires/go-proxyproto" ]; then
    if (cd "$HERE" && GO111MODULE=off GOPATH=$GODIR GOCACHE=$TMP/gocache \
            GOFLAGS='' go build -o "$TMP/gopp_receiver" gopp_receiver.go) \
            > "$TMP/gobuild.log" 2>&1; then
        GO4=$(free_port 127.0.0.1)
        GO6=$(free_port ::1)
        "$TMP/gopp_receiver" "127.0.0.1:$GO4" > "$TMP/go4.log" 2>&1 &
        PIDS+=($!)
        "$TMP/gopp_receiver" "[::1]:$GO6" > "$TMP/go6.log" 2>&1 &
        PIDS+=($!)
        if wait_listen "$GO4" && wait_listen "$GO6"; then
            HAVE_GO=1
        else
            fail "start gopp_receiver" "$(cat "$TMP"/go[46].log)"
        fi
    else
        fail "build gopp_receiver" "$(cat "$TMP/gobuild.log")"
    fi
else
    echo "SKIP go-proxyproto receiver: needs golang-go and" \
        "golang-github-pires-go-proxyproto-dev"
fi

# --- cases ---------------------------------------------------------------
# send NAME HOST PORT EXPECT [ppsend options]: EXPECT is a list of key=value
# the answer must contain; @LADDR / @LPORT stand for ppsend's real local
# address and port, @PORT for the port it connected to. EXPECT "refused"
# means the receiver must answer nothing.
send() {
    local name=$1 host=$2 port=$3 expect=$4 out err laddr lport body kv
    shift 4
    out=$TMP/out err=$TMP/err
    "$PPSEND" --timeout 3000 --path "/$name" "$@" "$host" "$port" \
        > "$out" 2> "$err"
    local rc=$?
    read -r _ _ laddr lport < <(grep -m1 '^ppsend: local ' "$err")
    if [ "$expect" = refused ]; then
        if [ -s "$out" ]; then
            fail "$name" "expected the connection to be refused" \
                "got: $(head -c 300 "$out")" "$(grep header "$err")"
        else
            pass "$name"
        fi
        return
    fi
    if [ $rc -ne 0 ] || ! head -1 "$out" | grep -q '^HTTP/1.1 200'; then
        fail "$name" "no 200 answer (ppsend exit $rc)" \
            "got: $(head -c 300 "$out" | tr '\r\n' '  ')" "$(cat "$err")"
        return
    fi
    body=$(sed -n '/^\r$/,$p' "$out" | tail -n +2 | tr -d '\r')
    local missing=()
    for kv in $expect; do
        kv=${kv//@LADDR/$laddr}
        kv=${kv//@LPORT/$lport}
        kv=${kv//@PORT/$port}
        kv=${kv//@NAME/$name}
        case " $body " in
            *" $kv "*) ;;
            *) missing+=("$kv") ;;
        esac
    done
    if [ ${#missing[@]} -eq 0 ]; then
        pass "$name"
    else
        fail "$name" "expected: ${missing[*]}" "answer: $body" \
            "$(grep header "$err")"
    fi
}

V4=(--src 192.0.2.10 --sport 4242 --dst 198.51.100.7 --dport 443)
V4_EXPECT="src=192.0.2.10 sport=4242 dst=198.51.100.7 dport=443"
V6=(--src 2001:db8::10 --sport 4343 --dst 2001:db8::20 --dport 8443)
V6_EXPECT="src=2001:db8::10 sport=4343 dst=2001:db8::20 dport=8443"
MIX=(--src 192.0.2.10 --sport 4444 --dst 2001:db8::20 --dport 8443)
MIX_EXPECT="src=::ffff:192.0.2.10 sport=4444 dst=2001:db8::20 dport=8443"
TLVS=(--crc32c --authority pp.example --unique-id ppsend-uid-1)

if [ $HAVE_HAPROXY = 1 ]; then
    for h in "127.0.0.1 $HAP4" "::1 $HAP6"; do
        set -- $h
        ip=$1 port=$2
        tag=haproxy26-$([ "$ip" = ::1 ] && echo ip6 || echo ip4)
        send "$tag-v1-tcp4" "$ip" "$port" "$V4_EXPECT" -1 "${V4[@]}"
        send "$tag-v1-tcp6" "$ip" "$port" "$V6_EXPECT" -1 "${V6[@]}"
        send "$tag-v1-unknown" "$ip" "$port" \
            "src=@LADDR sport=@LPORT dport=@PORT" -1 --unknown
        send "$tag-v2-tcp4" "$ip" "$port" "$V4_EXPECT" -2 "${V4[@]}"
        send "$tag-v2-tcp6" "$ip" "$port" "$V6_EXPECT" -2 "${V6[@]}"
        send "$tag-v2-mixed" "$ip" "$port" "$MIX_EXPECT" -2 "${MIX[@]}"
        send "$tag-v2-own-endpoints" "$ip" "$port" \
            "src=@LADDR sport=@LPORT dport=@PORT" -2
        send "$tag-v2-tlv-crc32c" "$ip" "$port" \
            "$V4_EXPECT authority=pp.example uid=ppsend-uid-1" \
            -2 "${V4[@]}" "${TLVS[@]}" --alpn http/1.1 --pad-align 64
        send "$tag-v2-tlv-crc32c-tcp6" "$ip" "$port" \
            "$V6_EXPECT authority=pp.example uid=ppsend-uid-1" \
            -2 "${V6[@]}" "${TLVS[@]}"
        send "$tag-v2-local" "$ip" "$port" \
            "src=@LADDR sport=@LPORT dport=@PORT" -2 --local
        send "$tag-v2-local-tlvs" "$ip" "$port" \
            "src=@LADDR sport=@LPORT dport=@PORT" -2 --local --crc32c \
            --authority pp.example
        send "$tag-v2-bad-crc32c-refused" "$ip" "$port" refused \
            -2 "${V4[@]}" "${TLVS[@]}" --bad-crc
    done
fi

if [ $HAVE_NGINX = 1 ]; then
    for h in "127.0.0.1 $NGX4" "::1 $NGX6"; do
        set -- $h
        ip=$1 port=$2
        tag=nginx122-$([ "$ip" = ::1 ] && echo ip6 || echo ip4)
        send "$tag-v1-tcp4" "$ip" "$port" "$V4_EXPECT" -1 "${V4[@]}"
        send "$tag-v1-tcp6" "$ip" "$port" "$V6_EXPECT" -1 "${V6[@]}"
        send "$tag-v1-unknown" "$ip" "$port" \
            "src= sport= real=@LADDR rport=@LPORT" -1 --unknown
        send "$tag-v2-tcp4" "$ip" "$port" "$V4_EXPECT" -2 "${V4[@]}"
        send "$tag-v2-tcp6" "$ip" "$port" "$V6_EXPECT" -2 "${V6[@]}"
        send "$tag-v2-mixed" "$ip" "$port" "$MIX_EXPECT" -2 "${MIX[@]}"
        # nginx 1.22 takes v2 headers of at most 107 bytes.
        send "$tag-v2-tlv-crc32c" "$ip" "$port" "$V4_EXPECT" \
            -2 "${V4[@]}" "${TLVS[@]}" --pad-align 8
        send "$tag-v2-tlv-crc32c-tcp6" "$ip" "$port" "$V6_EXPECT" \
            -2 "${V6[@]}" --crc32c --authority pp.example
        send "$tag-v2-local" "$ip" "$port" \
            "src= sport= real=@LADDR rport=@LPORT" -2 --local
    done
fi

if [ $HAVE_GO = 1 ]; then
    for h in "127.0.0.1 $GO4" "::1 $GO6"; do
        set -- $h
        ip=$1 port=$2
        tag=goproxyproto042-$([ "$ip" = ::1 ] && echo ip6 || echo ip4)
        send "$tag-v1-tcp4" "$ip" "$port" "cmd=PROXY $V4_EXPECT req=/@NAME" \
            -1 "${V4[@]}"
        send "$tag-v1-tcp6" "$ip" "$port" "cmd=PROXY $V6_EXPECT req=/@NAME" \
            -1 "${V6[@]}"
        send "$tag-v2-tcp4" "$ip" "$port" "cmd=PROXY $V4_EXPECT req=/@NAME" \
            -2 "${V4[@]}"
        send "$tag-v2-tcp6" "$ip" "$port" "cmd=PROXY $V6_EXPECT req=/@NAME" \
            -2 "${V6[@]}"
        send "$tag-v2-mixed" "$ip" "$port" "cmd=PROXY $MIX_EXPECT req=/@NAME" \
            -2 "${MIX[@]}"
        send "$tag-v2-tlv-crc32c" "$ip" "$port" \
            "cmd=PROXY $V4_EXPECT authority=pp.example uid=ppsend-uid-1 req=/@NAME" \
            -2 "${V4[@]}" "${TLVS[@]}" --alpn http/1.1 --pad-align 64
        send "$tag-v2-local" "$ip" "$port" \
            "cmd=LOCAL src=@LADDR sport=@LPORT dport=@PORT req=/@NAME" -2 --local
        send "$tag-v2-local-tlvs" "$ip" "$port" \
            "cmd=LOCAL src=@LADDR sport=@LPORT dport=@PORT authority=pp.example req=/@NAME" \
            -2 --local --crc32c --authority pp.example
    done
fi

finish
