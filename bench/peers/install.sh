#!/usr/bin/env bash
# Installs the benchmark's peers and chart renderer from Debian's packages:
#   mosquitto (MQTT broker), nginx-light + libnginx-mod-nchan (Nchan), librsvg2-bin (rsvg-convert).
# Idempotent and non-interactive: installs only what is missing. The bench starts its own
# instances on loopback with its own config files; the packages' system services are not used
# (a distro nginx service that apt starts on port 80 is stopped and disabled again, a Mosquitto
# service that was already running is left alone).
set -euo pipefail

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
ls /usr/lib/nginx/modules/ngx_nchan_module.so >/dev/null 2>&1 || missing+=(libnginx-mod-nchan)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)

if [ ${#missing[@]} -eq 0 ]; then
  echo "peers already installed: $({ /usr/sbin/mosquitto -h 2>/dev/null || true; } | head -1), $(/usr/sbin/nginx -v 2>&1), nchan module, $(rsvg-convert --version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bench/peers/install.sh: need root (or sudo) to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

nginx_was_there=0
[ -x /usr/sbin/nginx ] && nginx_was_there=1

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null

# The nginx package starts a default site on port 80; the bench needs none of it.
if [ "$nginx_was_there" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi

for check in /usr/sbin/mosquitto /usr/sbin/nginx /usr/lib/nginx/modules/ngx_nchan_module.so; do
  if [ ! -e "$check" ]; then
    echo "bench/peers/install.sh: apt-get finished but $check is missing" >&2
    exit 1
  fi
done
command -v rsvg-convert >/dev/null || { echo "bench/peers/install.sh: rsvg-convert is missing" >&2; exit 1; }
echo "installed ${missing[*]}"
