#!/usr/bin/env bash
# Make a Debian bookworm base image available locally without a registry.
# Usage: scripts/bootstrap-base-image.sh [TAG]   (default debian:bookworm-slim)
# 1. no-op if TAG already exists; 2. try `docker pull`; 3. else debootstrap a
# minbase rootfs from the host's apt mirror and `docker import` it as TAG.
# Env: SUITE (default bookworm), PULL_TIMEOUT (s, default 20), MIRROR (override).
set -euo pipefail

TAG=${1:-debian:bookworm-slim}
SUITE=${SUITE:-bookworm}
PULL_TIMEOUT=${PULL_TIMEOUT:-20}
say() { echo "[bootstrap-base] $*"; }
die() { echo "[bootstrap-base] ERROR: $*" >&2; exit 1; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG already present; nothing to do"
  exit 0
fi

say "trying: docker pull $TAG (timeout ${PULL_TIMEOUT}s)"
if timeout "$PULL_TIMEOUT" docker pull -q "$TAG" >/dev/null 2>&1; then
  say "pulled $TAG"
  exit 0
fi
say "pull failed (no registry?); building $TAG with debootstrap"
command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/ensure-docker.sh"

# --- read the host's apt mirrors (one-line .list and deb822 .sources) -------
# Prints "URI SUITE" for each enabled 'deb' entry.
apt_entries() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opts] URI SUITE COMPONENTS...
    awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
                     print $i, $(i+1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Stanzas separated by blank lines; comment lines ignored.
    awk 'function flush() { if (types ~ /(^| )deb( |$)/ && tolower(en) != "no")
                              for (u in U) for (s in S) print U[u], S[s]
                            types=""; en=""; delete U; delete S }
         /^[ \t]*#/ { next }
         /^[ \t]*$/ { flush(); next }
         { key=tolower($1); sub(/:$/, "", key)
           if (key=="types") { types=""; for (i=2;i<=NF;i++) types=types" "$i; types=types" " }
           else if (key=="enabled") en=$2
           else if (key=="uris") for (i=2;i<=NF;i++) U[i]=$i
           else if (key=="suites") for (i=2;i<=NF;i++) S[i]=$i }
         END { flush() }' "$f"
  done
}
entries=$(apt_entries)
if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(awk -v s="$SUITE" '$2==s {print $1; exit}' <<<"$entries")
fi
[ -n "${MIRROR:-}" ] || die "no 'deb ... $SUITE' entry found in /etc/apt/sources.list{,.d/*}; set MIRROR="
SECURITY=$(awk -v s="$SUITE-security" '$2==s {print $1; exit}' <<<"$entries")
MIRROR=${MIRROR%/}
say "mirror: $MIRROR${SECURITY:+ (security: $SECURITY)}"

WORK=$(mktemp -d /tmp/bootstrap-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/rootfs

start=$(date +%s)
# Reuse the host's apt proxy settings for debootstrap's own downloads.
proxy=$(apt-config dump 2>/dev/null | awk -F'"' '/^Acquire::http::Proxy /{print $2; exit}')
[ -n "$proxy" ] && export http_proxy=$proxy
say "debootstrap --variant=minbase $SUITE (log: $WORK/debootstrap.log)"
if ! debootstrap --variant=minbase --components=main "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  tail -n 30 "$WORK/debootstrap.log" >&2
  die "debootstrap failed"
fi

# --- apt config inside the image: same mirror, same proxy/validity settings --
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  [ -n "$SECURITY" ] && echo "deb ${SECURITY%/} $SUITE-security main"
} >"$ROOT/etc/apt/sources.list"
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] || continue
  # Proxy settings, and validity checks relaxed for snapshot mirrors.
  if grep -qiE '^[^/#]*(proxy|Check-Valid-Until|Check-Date)' "$f"; then
    cp "$f" "$ROOT/etc/apt/apt.conf.d/$(basename "$f")"
    say "copied apt config $f"
  fi
done
# Slim-image conventions: no apt caches, no translations, no docs/man pages.
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
CONF
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF
echo 'APT::Install-Recommends "false";' >"$ROOT/etc/apt/apt.conf.d/docker-no-recommends"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
       "$ROOT"/var/log/* "$ROOT"/tmp/* "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* \
       "$ROOT"/usr/share/locale/*
: >"$ROOT/etc/hostname"
rm -f "$ROOT/etc/resolv.conf"  # docker supplies it at run time

say "importing rootfs as $TAG"
tar --numeric-owner -C "$ROOT" -c . | docker import --change 'CMD ["bash"]' - "$TAG" >/dev/null
end=$(date +%s)
say "done: $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')) in $((end - start))s"
