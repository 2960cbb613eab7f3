#!/usr/bin/env bash
# Installs the Debian packages whose programs the integration tests start for real.
#
#   bash scripts/setup.sh             as root: install what is missing (apt-get update + install)
#   bash scripts/setup.sh --require   as non-root: exit 1 when something is missing
#   bash scripts/setup.sh --check     report only, never install; exit 1 when something is missing
#
# Idempotent: when every program below is already on the machine the apt step is skipped entirely,
# so a second run costs a few `command -v` lookups.
set -euo pipefail

# One line per program the tests need: "<program on PATH>:<Debian package that ships it>".
# Later parts (chromium, coturn, baresip, kamailio, ...) are appended here.
REQUIRED_PROGRAMS=(
  "sipp:sip-tester"
  "rtpengine:rtpengine-daemon"
  "rtpengine-ctl:rtpengine-utils"
  "ip:iproute2"
  "openssl:openssl"
  "chromium:chromium"
  "kamailio:kamailio"
)

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

require_all=false
check_only=false
for arg in "$@"; do
  case "$arg" in
    --require) require_all=true ;;
    --check) check_only=true; require_all=true ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

# Non-root shells often lack the sbin directories in PATH although `ip` lives there.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing_programs=()
missing_packages=()
find_missing() {
  missing_programs=()
  missing_packages=()
  local entry program package
  for entry in "${REQUIRED_PROGRAMS[@]}"; do
    program="${entry%%:*}"
    package="${entry#*:}"
    if ! command -v "$program" >/dev/null 2>&1; then
      missing_programs+=("$program")
      # keep the package list free of duplicates (several programs can share a package)
      if [[ " ${missing_packages[*]-} " != *" $package "* ]]; then
        missing_packages+=("$package")
      fi
    fi
  done
}

find_missing
if [[ ${#missing_programs[@]} -eq 0 ]]; then
  exit 0
fi

echo "setup.sh: missing programs: ${missing_programs[*]} (packages: ${missing_packages[*]})"

if [[ "$check_only" == true || "$EUID" -ne 0 ]]; then
  echo "setup.sh: install them as root with:"
  echo "  sudo bash scripts/setup.sh"
  echo "or:"
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing_packages[*]}"
  if [[ "$require_all" == true ]]; then
    exit 1
  fi
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: apt-get not found; this installer supports Debian/Ubuntu only" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing_packages[@]}"

find_missing
if [[ ${#missing_programs[@]} -ne 0 ]]; then
  echo "setup.sh: still missing after install: ${missing_programs[*]}" >&2
  exit 1
fi
echo "setup.sh: installed ${missing_packages[*]}"
