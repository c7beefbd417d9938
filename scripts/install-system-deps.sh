#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/system-deps.txt that are missing; does nothing when all
# are present. Idempotent: safe to run on every CI run and by npm test's pretest hook.
#
# A package counts as present when dpkg reports it installed AND its probe path exists. A package that
# dpkg reports installed but whose probe path is missing is reinstalled.
#
# Usage: bash scripts/install-system-deps.sh   (as root, on Debian/Ubuntu)
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
list_file="${script_dir}/system-deps.txt"
log() { printf 'install-system-deps: %s\n' "$*"; }
die() {
  printf 'install-system-deps: error: %s\n' "$*" >&2
  exit 1
}

[[ -r "$list_file" ]] || die "cannot read ${list_file}"

packages=()
probes=()
while read -r line || [[ -n "$line" ]]; do
  line="${line%%#*}"
  read -r name probe extra <<<"$line" || true
  [[ -n "${name:-}" ]] || continue
  [[ -n "${probe:-}" && -z "${extra:-}" ]] || die "${list_file}: expected '<package> <probe>' but got: ${line}"
  packages+=("$name")
  probes+=("$probe")
done <"$list_file"
((${#packages[@]} > 0)) || die "${list_file} lists no packages"

dpkg_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" || return 1
  [[ "$status" == installed ]]
}

missing=()
broken=()
find_missing() {
  missing=()
  broken=()
  local i name probe
  for i in "${!packages[@]}"; do
    name="${packages[$i]}"
    probe="${probes[$i]}"
    if command -v dpkg-query >/dev/null && ! dpkg_installed "$name"; then
      missing+=("$name")
    elif [[ "$probe" != - && ! -e "$probe" ]]; then
      broken+=("$name")
    fi
  done
}

find_missing
if ((${#missing[@]} == 0 && ${#broken[@]} == 0)); then
  log "all ${#packages[@]} system packages present (${packages[*]}); nothing to do"
  exit 0
fi

((${#missing[@]} == 0)) || log "missing: ${missing[*]}"
((${#broken[@]} == 0)) || log "installed but probe path absent (will reinstall): ${broken[*]}"

[[ "$(id -u)" == 0 ]] || die "must run as root to install packages; run: sudo bash scripts/install-system-deps.sh"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian/Ubuntu only"
command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian/Ubuntu only"

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (e.g. a parallel `npm test`) instead of failing on its lock.
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)

log "running: apt-get update"
apt-get "${apt_opts[@]}" update -qq

install=(apt-get "${apt_opts[@]}" install -y --no-install-recommends)
((${#broken[@]} == 0)) || install+=(--reinstall)
install+=("${missing[@]}" "${broken[@]}")
log "running: DEBIAN_FRONTEND=noninteractive ${install[*]}"
"${install[@]}"

find_missing
still=("${missing[@]}" "${broken[@]}")
((${#still[@]} == 0)) || die "still missing after apt-get install: ${still[*]}"
log "installed; all ${#packages[@]} system packages present"
