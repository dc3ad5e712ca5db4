#!/usr/bin/env bash
# Installs rlhfd as a systemd service: the binary, the embedded default models, the unit and a
# configuration (kept if one exists), then reloads systemd when it runs. Run as root.
#   scripts/install.sh [--prefix /usr/local] [--sysconfdir /etc] [--unitdir /etc/systemd/system]
#                      [--binary PATH] [--destdir DIR] [--no-reload]
# --binary: install a built binary instead of building one (swift build -c release).
# --destdir: stage everything under DIR (packaging; no reload).
# The state directory (/var/lib/rlhfd: OpenBLAS kernel cache, feedback store, policy versions)
# is created by systemd at the first start (StateDirectory= with DynamicUser=, which keeps it
# under /var/lib/private); creating it here would fight that. Then:
#   systemctl enable --now rlhfd && systemctl status rlhfd
# Undo with scripts/uninstall.sh (the configuration and the state stay unless --purge).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/usr/local SYSCONFDIR=/etc UNITDIR=/etc/systemd/system BINARY="" DESTDIR="" RELOAD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --sysconfdir) SYSCONFDIR="$2"; shift 2 ;;
    --unitdir) UNITDIR="$2"; shift 2 ;;
    --binary) BINARY="$2"; shift 2 ;;
    --destdir) DESTDIR="$2"; RELOAD=0; shift 2 ;;
    --no-reload) RELOAD=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$BINARY" ]; then
  echo "== swift build -c release"
  (cd "$ROOT" && swift build -c release --product rlhfd 2>&1 | tail -1)
  BINARY="$(cd "$ROOT" && swift build -c release --show-bin-path)/rlhfd"
fi
[ -x "$BINARY" ] || { echo "install.sh: $BINARY is not an executable" >&2; exit 1; }

BIN="$PREFIX/bin/rlhfd"
MODELS="$PREFIX/share/rlhfd/models/default"
CONFIG="$SYSCONFDIR/rlhfd/rlhfd.yaml"
UNIT="$UNITDIR/rlhfd.service"

install -D -m 0755 "$BINARY" "$DESTDIR$BIN"
echo "installed $BIN"
for model in policy reward; do
  rm -rf "$DESTDIR$MODELS/$model"
  mkdir -p "$DESTDIR$MODELS/$model"
  cp -R "$ROOT/models/world/$model/." "$DESTDIR$MODELS/$model/"  # the embedded default
  chmod -R a+rX,go-w "$DESTDIR$MODELS/$model"
done
echo "installed $MODELS/{policy,reward}"

# The unit, with this prefix's binary and configuration.
mkdir -p "$DESTDIR$UNITDIR"
sed -e "s|/usr/local/bin/rlhfd|$BIN|g" -e "s|/etc/rlhfd/rlhfd.yaml|$CONFIG|g" \
  "$ROOT/systemd/rlhfd.service" > "$DESTDIR$UNIT.tmp"
chmod 0644 "$DESTDIR$UNIT.tmp"
mv "$DESTDIR$UNIT.tmp" "$DESTDIR$UNIT"
echo "installed $UNIT"

# The configuration: never overwritten (an operator's edits win); new ones point at the
# installed default models.
if [ -e "$DESTDIR$CONFIG" ]; then
  echo "kept $CONFIG (exists)"
else
  mkdir -p "$DESTDIR$SYSCONFDIR/rlhfd"
  {
    echo "# Written by scripts/install.sh from systemd/rlhfd.yaml.example."
    echo "policy_model: $MODELS/policy"
    echo "reward_model: $MODELS/reward"
    grep -v -E '^(policy_model|reward_model):' "$ROOT/systemd/rlhfd.yaml.example"
  } > "$DESTDIR$CONFIG.tmp"
  chmod 0644 "$DESTDIR$CONFIG.tmp"
  mv "$DESTDIR$CONFIG.tmp" "$DESTDIR$CONFIG"
  echo "installed $CONFIG"
fi
if [ -z "$DESTDIR" ]; then
  "$BIN" check-config --config "$CONFIG" > /dev/null
  echo "checked $CONFIG"
fi
if [ "$RELOAD" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "systemd reloaded: systemctl enable --now rlhfd"
fi
