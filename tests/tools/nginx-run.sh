#!/bin/sh
# tests/tools/nginx-run.sh — a fast static stand-in for the API: nginx answering
# every POST .../cancel with one fixed Run (about 690 bytes of JSON), over TLS
# with HTTP/2 (a self-signed certificate for 127.0.0.1 made here) and over
# plain HTTP/1.1. Used by make bench and tests/lua/test_http2.lua.
#   sh tests/tools/nginx-run.sh start DIR   -> DIR/tls_port (TLS, HTTP/2 offered), DIR/plain_port
#       (HTTP/1.1), DIR/close_port (TLS, HTTP/1.1, one request per connection), DIR/cert.pem,
#       DIR/access.log (lines "connection protocol status session-reused": "r" or ".")
#   Every answer names its connection, protocol and TLS resumption in X-Connection,
#   X-Protocol and X-Session-Reused ("r" when the TLS session was resumed).
#   sh tests/tools/nginx-run.sh stop DIR
# Ports come from a random pick, retried while taken (nginx cannot report a
# port 0 bind). Exits 2 with a reason when nginx or openssl is missing.
set -e
cmd=$1
dir=$2
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 64; }

if [ "$cmd" = stop ]; then
    [ -s "$dir/nginx.pid" ] && "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -s stop 2>/dev/null || true
    exit 0
fi
[ -x "$NGINX" ] || { echo "nginx not installed (apt-get install nginx)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl not installed" >&2; exit 2; }
mkdir -p "$dir/tmp"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1

run='{"id":"run_bench","object":"thread.run","created_at":1700000000,"assistant_id":"asst_bench","thread_id":"thread_bench","status":"cancelling","started_at":1700000001,"expires_at":1700000600,"cancelled_at":null,"failed_at":null,"completed_at":null,"required_action":null,"last_error":null,"model":"gpt-4o","instructions":"You summarize long documents.","tools":[{"type":"file_search"}],"tool_resources":{},"metadata":{"job":"bench"},"temperature":1.0,"top_p":1.0,"max_prompt_tokens":null,"max_completion_tokens":null,"truncation_strategy":{"type":"auto","last_messages":null},"incomplete_details":null,"usage":null,"response_format":"auto","tool_choice":"auto","parallel_tool_calls":true}'

write_conf() {
    cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    log_format conn '\$connection \$server_protocol \$status \$ssl_session_reused';
    access_log $dir/access.log conn buffer=64k flush=100ms;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    http2_max_concurrent_streams 128;   # nginx's default, written out: test_http2 relies on it
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    ssl_session_cache shared:rc_tls:1m;
    add_header X-Connection \$connection always;
    add_header X-Protocol \$server_protocol always;
    add_header X-Session-Reused \$ssl_session_reused always;
    server {
        listen 127.0.0.1:$1 ssl http2;
        listen 127.0.0.1:$2;
        location ~ /cancel\$ {
            default_type application/json;
            return 200 '$run';
        }
    }
    server {
        listen 127.0.0.1:$3 ssl;
        keepalive_timeout 0;
        location ~ /cancel\$ {
            default_type application/json;
            return 200 '$run';
        }
    }
}
CONF
}

tries=0
while :; do
    tls=$(awk -v s="$$$tries" 'BEGIN { srand(s); print 20000 + int(rand() * 30000) }')
    write_conf "$tls" $((tls + 1)) $((tls + 2))
    if "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/start.log"; then
        break
    fi
    tries=$((tries + 1))
    if ! grep -q "in use" "$dir/start.log" || [ $tries -ge 20 ]; then
        echo "nginx did not start: $(tail -1 "$dir/start.log")" >&2
        exit 1
    fi
    : > "$dir/start.log"
done
echo "$tls" > "$dir/tls_port"
echo $((tls + 1)) > "$dir/plain_port"
echo $((tls + 2)) > "$dir/close_port"
