#!/bin/bash
# bench/registry-pull-gpg.sh (root): the pull of the usbip image (6.1.0-56-amd64) by a fresh node storage, with and without the GPG signature check (podman --signature-policy: insecureAcceptAnything vs signedBy GPGKeys, the signature in a file:// lookaside), five runs each, interleaved. Needs the builder image localhost/usbip-1.0.0:6.1.0-56-amd64, docker-registry, gnupg.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); E=$(mktemp -d /tmp/gpgbench-XXXX); export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/test/setup/containers.conf}
mkdir -m 700 $E/gnupg; export GNUPGHOME=$E/gnupg
gpg --batch --passphrase '' --quick-gen-key 'bench <b@kvc.test>' ed25519 sign never 2>/dev/null
FPR=$(gpg --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}'); gpg --export --armor $FPR > $E/key.asc
PORT=${PORT:-5611}; mkdir -p $E/reg
printf 'version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s/reg}}\nhttp: {addr: "127.0.0.1:%s"}\n' $E $PORT > $E/reg.yml
/usr/bin/docker-registry serve $E/reg.yml >/dev/null 2>&1 & REG=$!; sleep 1
R=127.0.0.1:$PORT/bench; IMG=usbip-1.0.0:6.1.0-56-amd64
printf 'docker:\n  "%s":\n    lookaside: "file://%s/sigs"\n    lookaside-staging: "file://%s/sigs"\n' $R $E $E > /etc/containers/registries.d/kvc-gpgbench.yaml
podman push --quiet --tls-verify=false --sign-by $FPR localhost/$IMG docker://$R/$IMG
printf '{"default":[{"type":"insecureAcceptAnything"}]}' > $E/open.json
printf '{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"%s":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"%s/key.asc","signedIdentity":{"type":"matchRepoDigestOrExact"}}]}}}' $R $E > $E/gpg.json
for run in 1 2 3 4 5; do
  for policy in open gpg; do
    S=$E/node-$policy-$run; mkdir -p $S; printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' $S $S > $S/storage.conf
    t0=$(date +%s.%N); CONTAINERS_STORAGE_CONF=$S/storage.conf podman pull --quiet --tls-verify=false --signature-policy $E/$policy.json docker://$R/$IMG >/dev/null; t1=$(date +%s.%N)
    echo "$policy $run $(echo "$t1 - $t0" | bc)"
    CONTAINERS_STORAGE_CONF=$S/storage.conf podman system reset --force >/dev/null 2>&1
  done
done
kill $REG; rm -f /etc/containers/registries.d/kvc-gpgbench.yaml; gpgconf --kill gpg-agent; rm -rf $E
