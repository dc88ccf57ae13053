#!/usr/bin/env bash
# A throwaway certificate authority and one server certificate for the local deployment
# (`make up TLS=1`, the TLS stack test): usage `tls.sh DIR`. Writes DIR/ca.pem (trust
# this), DIR/server.pem and DIR/server.key (every local service presents them: the names
# are localhost and 127.0.0.1). Made once per DIR; the CA's key never leaves DIR.
set -euo pipefail

dir=${1:?usage: tls.sh DIR}
mkdir -p "$dir"
if [ -s "$dir/ca.pem" ] && [ -s "$dir/server.pem" ] && [ -s "$dir/server.key" ]; then
  exit 0
fi
command -v openssl >/dev/null || { apt-get install -y -q openssl >/dev/null; }
umask 077
# P-256 keys: small, and every TLS stack verifies them.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 30 -subj "/CN=loyalty local CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -out "$dir/server.pem" -days 30 -extfile "$dir/server.ext" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
chmod 644 "$dir/ca.pem" "$dir/server.pem"
echo "==> TLS: a local CA and server certificate in $dir"
