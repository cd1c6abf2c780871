#!/usr/bin/env bash
# Ensure a working Docker engine on a Debian host without systemd.
# Idempotent: installs docker.io/debootstrap if missing, starts dockerd if it
# is not answering, and checks that the docker client can talk to it.
# Env: DOCKERD_LOG (default /var/log/dockerd.log), DOCKERD_WAIT (seconds, default 60),
#      DOCKERD_EXTRA_ARGS (extra flags passed to dockerd).
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT=${DOCKERD_WAIT:-60}
SOCK=/var/run/docker.sock
say() { echo "[ensure-docker] $*"; }
die() { echo "[ensure-docker] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# --- packages --------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
# debootstrap needs the archive keyring to verify Release files.
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
  say "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
  apt-get update -qq
  # No recommends: they pull apparmor/needrestart which are useless here.
  # RUNLEVEL=1 keeps maintainer scripts from trying to start services.
  RUNLEVEL=1 apt-get install -y -qq --no-install-recommends \
    "${need[@]}" ca-certificates xz-utils >/dev/null
else
  say "packages present (dockerd, iptables, debootstrap)"
fi

# --- daemon ----------------------------------------------------------------
# Ask the daemon through the socket directly, whatever client is first on PATH.
daemon_up() { docker info >/dev/null 2>&1; }

if daemon_up; then
  say "dockerd already answering"
else
  if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd process exists but is not answering yet; waiting"
  else
    args=()
    # Docker needs working iptables for bridge NAT. Prefer the nft backend
    # (Debian default); fall back to legacy; else run without iptables.
    if iptables -w -L -n >/dev/null 2>&1; then
      :
    elif command -v iptables-legacy >/dev/null 2>&1 && iptables-legacy -L -n >/dev/null 2>&1; then
      say "iptables-nft unusable, switching to iptables-legacy"
      update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
      update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null || true
    else
      say "WARNING: iptables unusable, starting dockerd with --iptables=false (use --network host)"
      args+=(--iptables=false)
    fi
    # shellcheck disable=SC2206
    args+=(${DOCKERD_EXTRA_ARGS:-})
    say "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    nohup setsid dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
  fi
  for ((i = 0; i < WAIT; i++)); do
    daemon_up && break
    sleep 1
  done
  daemon_up || { tail -n 20 "$LOG" >&2 || true; die "dockerd did not come up within ${WAIT}s (socket $SOCK); see $LOG"; }
  say "dockerd up after ~${i}s"
fi

# --- client/daemon API compatibility ---------------------------------------
# /usr/local/bin/docker may be newer than Debian's dockerd (API 1.41). Modern
# clients negotiate down automatically; a pinned DOCKER_API_VERSION above the
# daemon's would break that, so detect and report it.
if ! out=$(docker version 2>&1); then
  echo "$out" >&2
  srv=$(docker -H "unix://$SOCK" version --format '{{.Server.APIVersion}}' 2>/dev/null || true)
  die "docker client cannot talk to daemon${srv:+ (daemon API $srv; try: export DOCKER_API_VERSION=$srv)}"
fi
say "$(docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}) <-> daemon {{.Server.Version}} (API {{.Server.APIVersion}})')"
say "storage driver: $(docker info --format '{{.Driver}}')"
