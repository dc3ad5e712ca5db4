#!/usr/bin/env bash
# Removes what scripts/install.sh installed: stops and disables the service (when systemd
# runs), removes the unit, the binary and the default models. The configuration
# (/etc/rlhfd) and the state directory (/var/lib/rlhfd: the feedback store, policy versions)
# stay unless --purge.
#   scripts/uninstall.sh [--prefix /usr/local] [--sysconfdir /etc] [--unitdir /etc/systemd/system]
#                        [--statedir /var/lib] [--destdir DIR] [--purge]
set -euo pipefail
PREFIX=/usr/local SYSCONFDIR=/etc UNITDIR=/etc/systemd/system STATEDIR=/var/lib DESTDIR="" PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --sysconfdir) SYSCONFDIR="$2"; shift 2 ;;
    --unitdir) UNITDIR="$2"; shift 2 ;;
    --statedir) STATEDIR="$2"; shift 2 ;;
    --destdir) DESTDIR="$2"; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && [ -e "$UNITDIR/rlhfd.service" ]; then
  systemctl disable --now rlhfd || true
fi
rm -f "$DESTDIR$UNITDIR/rlhfd.service" && echo "removed $UNITDIR/rlhfd.service"
rm -f "$DESTDIR$PREFIX/bin/rlhfd" && echo "removed $PREFIX/bin/rlhfd"
rm -rf "$DESTDIR$PREFIX/share/rlhfd" && echo "removed $PREFIX/share/rlhfd"
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
if [ "$PURGE" = 1 ]; then
  rm -rf "$DESTDIR$SYSCONFDIR/rlhfd" "$DESTDIR$STATEDIR/rlhfd" "$DESTDIR$STATEDIR/private/rlhfd"
  echo "purged $SYSCONFDIR/rlhfd and $STATEDIR/rlhfd"
else
  echo "kept $SYSCONFDIR/rlhfd and $STATEDIR/rlhfd (--purge removes them)"
fi
