#!/usr/bin/env bash
# Static checks of deploy/docker/Dockerfile (no Docker engine needed): the
# targets the compose file and the deploy guide use exist, the binaries are
# built static and stripped, and every runtime image is distroless and runs
# as a non-root user.
set -euo pipefail

dockerfile=${1:-deploy/docker/Dockerfile}
[[ -f $dockerfile ]] || {
  echo "dockerfile-lint: $dockerfile not found" >&2
  exit 1
}

errors=0
fail() {
  echo "dockerfile-lint: $dockerfile: $*" >&2
  errors=$((errors + 1))
}

# Join continuation lines so each instruction is one line.
flat=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -v '^[[:space:]]*#')

stage_of() { # the FROM line of stage $1
  grep -Ei "^FROM[[:space:]].*[[:space:]]AS[[:space:]]+$1\$" <<<"$flat" || true
}

for target in api worker bedrocksim; do
  from=$(stage_of "$target")
  if [[ -z $from ]]; then
    fail "no build target \"$target\""
    continue
  fi
  # Follow the chain of stages down to the image it is based on.
  base=$(awk '{print $2}' <<<"$from")
  seen=0
  while [[ -n $(stage_of "$base") && $seen -lt 5 ]]; do
    base=$(awk '{print $2}' <<<"$(stage_of "$base")")
    seen=$((seen + 1))
  done
  [[ $base == gcr.io/distroless/static* ]] || fail "target $target is based on $base, want gcr.io/distroless/static*"
done

# The runtime images must not run as root: the distroless base is :nonroot
# and an explicit numeric USER keeps that true if the base changes.
grep -Eq '^FROM[[:space:]]+gcr\.io/distroless/static[^[:space:]]*:nonroot' <<<"$flat" || fail "runtime base is not distroless static :nonroot"
grep -Eq '^USER[[:space:]]+(65532|nonroot)' <<<"$flat" || fail "no USER 65532 (nonroot)"
if grep -Eq '^USER[[:space:]]+(0|root)\b' <<<"$flat"; then fail "switches to USER root"; fi

# Static, reproducible, stripped binaries.
grep -Eq 'CGO_ENABLED=0' <<<"$flat" || fail "build does not set CGO_ENABLED=0"
grep -Eq 'go build .*-trimpath' <<<"$flat" || fail "go build without -trimpath"
grep -Eq "go build .*-ldflags=['\"]?-s -w" <<<"$flat" || fail "go build without -ldflags='-s -w'"
grep -Eq '^FROM[[:space:]].*golang:' <<<"$flat" || fail "no golang builder stage"
grep -Eq '^ARG GO_VERSION=1\.26' "$dockerfile" || fail "builder is not Go 1.26 (go.mod)"
for cmd in api worker bedrocksim; do
  grep -Eq "go build .*\./cmd/$cmd( |$)" <<<"$flat" || fail "go build does not build ./cmd/$cmd"
done
if grep -Eq '^ADD[[:space:]]+https?://' <<<"$flat"; then fail "ADD from a URL (unpinned download)"; fi

# Reproducible: every base image is pinned by digest.
while read -r ref; do
  [[ -z $ref ]] && continue
  [[ -n $(stage_of "$ref") ]] && continue # a stage of this file
  [[ $ref == *@sha256:* || $ref == *@\$\{*DIGEST\}* ]] || fail "base image $ref is not pinned by digest"
done < <(sed -E 's/^FROM[[:space:]]+(--platform=[^[:space:]]+[[:space:]]+)?([^[:space:]]+).*/\2/;t;d' <<<"$flat")
for arg in GO_DIGEST DISTROLESS_DIGEST; do
  grep -Eq "^ARG $arg=sha256:[0-9a-f]{64}\$" "$dockerfile" || fail "ARG $arg is not a sha256 digest"
done

# verify-full against Aurora needs the RDS CA bundle where DATABASE_URL's
# sslrootcert points (modules/database ca_bundle_path).
grep -Eq '^COPY .*/etc/ssl/certs/rds-global-bundle\.pem' <<<"$flat" || fail "no RDS CA bundle at /etc/ssl/certs/rds-global-bundle.pem"

# Distroless has no shell or curl: health checks run the binaries' subcommand.
for bin in sluice-api sluice-worker; do
  grep -Eq "^HEALTHCHECK .*\[\"/usr/local/bin/$bin\", \"healthcheck\"\]" <<<"$flat" || fail "no HEALTHCHECK with $bin healthcheck"
done

if [[ $errors -gt 0 ]]; then
  exit 1
fi
echo "dockerfile-lint: $dockerfile: targets api, worker, bedrocksim; static, stripped, distroless, non-root"
