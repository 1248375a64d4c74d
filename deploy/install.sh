#!/usr/bin/env bash
# Install or update an EWS hub or gateway on Debian 12 / Raspberry Pi OS. Idempotent: a second run
# changes nothing (it prints "changes: 0"). See docs/operations.md.
#
#   sudo deploy/install.sh --role hub  [--county HOST:PORT --village NAME] [--san hub.fengshan.example]
#   sudo deploy/install.sh --role edge
#   deploy/install.sh --role hub --root /tmp/img --skip-packages   # into a prefix (image build, tests)
#   deploy/install.sh --role hub --dry-run                          # show what would change
#   deploy/install.sh --role hub --no-native                        # skip the compiled rule engine
set -euo pipefail
umask 022
shopt -u patsub_replacement 2>/dev/null || true  # bash 5.2: keep '&' literal in ${var//pat/repl}

ROLE=""
ROOT=""
DRY=0
SKIP_PACKAGES=0
NATIVE="${EWS_NATIVE:-1}"  # hub: compile the rule engine with mypyc after pip install (0: pure Python)
COUNTY=""
VILLAGE=""
SANS=()  # --san: more names or addresses gateways reach the broker by, for its certificate
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHANGES=0

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --role hub|edge  --root DIR  --dry-run  --skip-packages  --no-native  --county HOST:PORT  --village NAME  --san NAME|IP (repeatable)  --src DIR"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --role) ROLE="${2:-}"; shift 2 ;;
    --root) ROOT="$(realpath -m "${2:-}")"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --skip-packages) SKIP_PACKAGES=1; shift ;;
    --no-native) NATIVE=0; shift ;;
    --county) COUNTY="${2:-}"; shift 2 ;;
    --village) VILLAGE="${2:-}"; shift 2 ;;
    --san) SANS+=("${2:-}"); shift 2 ;;
    --src) SRC="$(realpath "${2:-}")"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }
[ "$ROLE" = hub ] || [ "$ROLE" = edge ] || die "--role must be hub or edge"
{ [ -f "$SRC/pyproject.toml" ] && [ -d "$SRC/deploy" ]; } || die "--src $SRC is not an EWS source tree"
if [ -n "$COUNTY" ]; then
  [ "$ROLE" = hub ] || die "--county is for hubs"
  [[ "$COUNTY" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "--county must be HOST:PORT, got $COUNTY"
  [[ "$VILLAGE" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "--village NAME (a-z 0-9 -) is required with --county"
fi
SAN_ENTRIES=()  # as openssl takes them: DNS:name or IP:address
for san in "${SANS[@]}"; do
  [ "$ROLE" = hub ] || die "--san is for hubs"
  if [[ "$san" =~ ^[0-9.]+$ ]] || [[ "$san" =~ ^[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*$ ]]; then
    SAN_ENTRIES+=("IP:$san")
  elif [[ "$san" =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
    SAN_ENTRIES+=("DNS:$san")
  else
    die "--san must be a host name or an IP address, got $san"
  fi
done
if [ -z "$ROOT" ] && [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or with --root DIR / --dry-run)"
fi

OPT="$ROOT/opt/ews"
ETC="$ROOT/etc/ews"
VAR="$ROOT/var/lib/ews"
MOSQ_ETC="$ROOT/etc/mosquitto"
UNIT_DIR="$ROOT/etc/systemd/system"
VENV="$OPT/venv"
# The ews command that manages accounts; EWS_CMD overrides it when the venv is not built (--skip-packages).
read -r -a EWS <<<"${EWS_CMD:-$VENV/bin/ews}"

# ---- primitives: each checks first and acts only on a difference --------------------------------
changed() { CHANGES=$((CHANGES + 1)); say "$*"; }
run() { if [ "$DRY" = 1 ]; then say "would run: $*"; else "$@"; fi; }
in_prefix() { [ -n "$ROOT" ]; }
digest() { { cat "$@" 2>/dev/null || true; } | sha256sum; }

ensure_dir() {  # path mode [owner:group]
  local path=$1 mode=$2 owner=${3:-}
  if [ ! -d "$path" ]; then
    changed "create directory $path"
    run install -d -m "$mode" "$path"
  elif [ "$(stat -c %a "$path")" != "${mode#0}" ]; then
    changed "chmod $mode $path"
    run chmod "$mode" "$path"
  fi
  [ -n "$owner" ] && ensure_owner "$path" "$owner"
  return 0
}

ensure_owner() {  # path owner:group; skipped in a prefix, where the system users do not exist
  local path=$1 owner=$2
  in_prefix && return 0
  [ -e "$path" ] || return 0
  if [ "$(stat -c %U:%G "$path")" != "$owner" ]; then
    changed "chown $owner $path"
    run chown "$owner" "$path"
  fi
}

ensure_file() {  # src dest mode [owner:group]: install when content or mode differ
  local src=$1 dest=$2 mode=$3 owner=${4:-}
  if [ ! -f "$dest" ] || ! cmp -s "$src" "$dest"; then
    changed "install $dest"
    run install -D -m "$mode" "$src" "$dest"
  elif [ "$(stat -c %a "$dest")" != "${mode#0}" ]; then
    changed "chmod $mode $dest"
    run chmod "$mode" "$dest"
  fi
  [ -n "$owner" ] && ensure_owner "$dest" "$owner"
  return 0
}

ensure_text() {  # dest mode owner text: like ensure_file for generated content
  local dest=$1 mode=$2 owner=$3 text=$4 tmp
  tmp="$(mktemp)"
  printf '%s\n' "$text" >"$tmp"
  ensure_file "$tmp" "$dest" "$mode" "$owner"
  rm -f "$tmp"
}

sync_tree() {  # src dest: mirror the source tree (no VCS, caches or venvs), removing stale files
  local src=$1 dest=$2 rel
  while IFS= read -r -d '' rel; do
    ensure_file "$src/$rel" "$dest/$rel" "$(stat -c %a "$src/$rel")"
  done < <(cd "$src" && find . -type f ! -path './.git/*' ! -path './.venv/*' ! -path './.hypothesis/*' ! -path './var/*' ! -path '*/__pycache__/*' \
    ! -path './.*_cache/*' ! -path './*.egg-info/*' ! -path './build/*' ! -name '.git' \
    ! -name '*.so' ! -name '_native_build.json' -printf '%P\0' | sort -z)
  [ -d "$dest" ] || return 0
  while IFS= read -r -d '' rel; do
    if [ ! -e "$src/$rel" ]; then
      changed "remove stale $dest/$rel"
      run rm -f "$dest/$rel"
    fi
  done < <(cd "$dest" && find . -type f ! -path '*/__pycache__/*' ! -path './*.egg-info/*' ! -path './build/*' \
    ! -name '*.so' ! -name '_native_build.json' -printf '%P\0' | sort -z)
}

# ---- 1. Debian packages, system user ------------------------------------------------------------
if [ "$ROLE" = hub ]; then
  PACKAGES=(python3-venv openssl mosquitto mosquitto-clients influxdb fonts-noto-cjk espeak-ng sox)
  [ "$NATIVE" = 0 ] || PACKAGES+=(gcc python3-dev)  # the native rule engine's compiler and headers
else
  # The siren relay (kind: gpio) switches through gpiozero and, on Bookworm, its lgpio pin factory. Both come
  # from the distribution, built for the Pi's kernel, and the edge venv sees them (--system-site-packages
  # below). Debian's own archive (an x86 test box) has gpiozero but no lgpio: take lgpio where offered.
  PACKAGES=(python3-venv openssl python3-gpiozero)
fi
if [ "$SKIP_PACKAGES" = 1 ] || in_prefix; then
  say "skipping Debian packages and the venv (--skip-packages or --root)"
else
  if [ "$ROLE" = edge ] && apt-cache show python3-lgpio >/dev/null 2>&1; then PACKAGES+=(python3-lgpio); fi
  missing=()
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    changed "install Debian packages: ${missing[*]}"
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if ! in_prefix; then
  if ! getent passwd ews >/dev/null; then
    changed "create system user ews"
    run useradd --system --home-dir /var/lib/ews --shell /usr/sbin/nologin --user-group ews
  fi
  if [ "$ROLE" = hub ]; then groups=(dialout audio); else groups=(dialout gpio); fi
  for g in "${groups[@]}"; do
    getent group "$g" >/dev/null || { changed "create group $g"; run groupadd --system "$g"; }
    if ! id -nG ews 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
      changed "add ews to group $g"
      run usermod -aG "$g" ews
    fi
  done
fi

# ---- 2. code, venv, directories ------------------------------------------------------------------
ensure_dir "$OPT" 0755 root:root
before_code=$CHANGES
sync_tree "$SRC" "$OPT/src"
CODE_CHANGED=$((CHANGES - before_code))
if [ "$SKIP_PACKAGES" = 0 ] && ! in_prefix; then
  stamp="$VENV/.ews-installed"
  want="$(sha256sum "$SRC/pyproject.toml" | cut -d' ' -f1)"  # = the synced copy, absent in a dry run
  venv_opts=()
  [ "$ROLE" = edge ] && venv_opts=(--system-site-packages)  # gpiozero, lgpio: Debian packages (above)
  [ -x "$VENV/bin/python" ] || { changed "create venv $VENV"; run python3 -m venv "${venv_opts[@]}" "$VENV"; }
  if [ "$ROLE" = edge ] && [ -f "$VENV/pyvenv.cfg" ] &&
    ! grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg"; then
    changed "let $VENV see the system's gpiozero and lgpio (include-system-site-packages)"
    run sed -i 's/^include-system-site-packages = .*/include-system-site-packages = true/' "$VENV/pyvenv.cfg"
    CODE_CHANGED=$((CODE_CHANGED + 1))  # restart the agent: its sys.path is fixed at start
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    changed "pip install ews into $VENV"
    run "$VENV/bin/pip" install -q --upgrade pip
    extras=""; [ "$ROLE" = hub ] && [ "$NATIVE" != 0 ] && extras="[native]"  # mypyc
    run "$VENV/bin/pip" install -q -e "$OPT/src$extras"
    [ "$DRY" = 1 ] || echo "$want" >"$stamp"
  fi
  if [ "$(readlink "$ROOT/usr/local/bin/ews" 2>/dev/null)" != "$VENV/bin/ews" ]; then
    changed "link /usr/local/bin/ews"
    run ln -sfn "$VENV/bin/ews" "$ROOT/usr/local/bin/ews"
  fi
fi
# The hub's rule engine compiled with mypyc into $OPT/src (kept by sync_tree). It is built only when it
# does not match the code (so a rerun changes nothing); on failure the hub runs the same engine in pure
# Python, only slower. Without a venv (--skip-packages, --root) there is no mypyc: run `ews native build`.
if [ "$ROLE" = hub ] && [ "$NATIVE" != 0 ] && [ "$SKIP_PACKAGES" = 0 ] && ! in_prefix; then
  if [ "$DRY" = 1 ]; then
    say "would run: ews native build (when the compiled rule engine does not match the code)"
  elif ! "$VENV/bin/python" -m ews.cli native status --require-native >/dev/null 2>&1; then
    changed "build the native rule engine (mypyc, about a minute)"
    CODE_CHANGED=$((CODE_CHANGED + 1))  # restart the hub onto it
    "$VENV/bin/python" -m ews.cli native build ||
      say "native rule engine not built (see above); the hub runs the pure-Python engine"
  fi
fi
ensure_dir "$ETC" 0750 root:ews
ensure_dir "$ETC/secrets" 0700 ews:ews
ensure_dir "$VAR" 0750 ews:ews

# ---- 3. hub: broker, TLS, accounts, bridge, InfluxDB ----------------------------------------------
san_of() {  # cert: its subjectAltName entries, one a line, as openssl takes them (DNS:x, IP:y)
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr ',' '\n' |
    sed -e 's/^ *//' -e 's/^IP Address:/IP:/' | grep -v '^$' || true
}

cert_names() {  # cert entry: whether the certificate is valid for DNS:x or IP:y (openssl's own matching)
  case "$2" in
    IP:*) openssl x509 -in "$1" -noout -checkip "${2#IP:}" 2>/dev/null | grep -q ' does match' ;;
    *) openssl x509 -in "$1" -noout -checkhost "${2#DNS:}" 2>/dev/null | grep -q ' does match' ;;
  esac
}

make_pki() {  # a CA for this hub (key kept root-only in /etc/ews/pki) and the broker's certificate
  local pki="$ETC/pki" crt="$MOSQ_ETC/ews/server.crt" key="$MOSQ_ETC/ews/server.key" host e
  local want=() missing=()
  host="$(hostname -f 2>/dev/null || hostname)"
  ensure_dir "$pki" 0700 root:root
  # The CA is made once and never replaced here: every gateway trusts it (tls_ca), so a new one would cut
  # all of them off. ca.key alone may be kept offline; ca.crt alone is not enough to go on.
  if [ ! -f "$pki/ca.crt" ]; then
    [ -f "$pki/ca.key" ] && die "$pki/ca.key without ca.crt: restore ca.crt from the PKI backup"
    changed "create the hub CA for $host"
    if [ "$DRY" = 1 ]; then
      changed "issue the broker certificate from the new CA"
      return 0
    fi
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key"
    chmod 0600 "$pki/ca.key"
    openssl req -x509 -new -key "$pki/ca.key" -days 3650 -subj "/CN=EWS hub CA $host" -out "$pki/ca.crt"
  fi
  # The broker's names: this host, loopback and every --san. A certificate missing one is reissued from the
  # same CA with the names it had plus the missing ones, so a rerun without --san never drops a name.
  want=("DNS:$host" DNS:localhost IP:127.0.0.1 "${SAN_ENTRIES[@]}")
  if [ -f "$crt" ] && [ -f "$key" ]; then
    for e in "${want[@]}"; do cert_names "$crt" "$e" || missing+=("$e"); done
    [ ${#missing[@]} = 0 ] && return 0
    mapfile -t want < <({ san_of "$crt"; printf '%s\n' "${missing[@]}"; } | awk '!seen[$0]++')
  else
    mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')
  fi
  [ -f "$pki/ca.key" ] || die "to issue the broker certificate, put the CA key back in $pki/ca.key (0600)"
  changed "issue the broker certificate for $(IFS=,; echo "${want[*]}") from the hub CA"
  [ "$DRY" = 1 ] && return 0
  if [ ! -f "$key" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$key"
    chmod 0640 "$key"
  fi
  openssl req -new -key "$key" -subj "/CN=$host" -out "$pki/server.csr"
  printf 'subjectAltName=%s\n' "$(IFS=,; echo "${want[*]}")" >"$pki/server.ext"
  openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 1825 -extfile "$pki/server.ext" -out "$crt" 2>/dev/null
}

MOSQ_CHANGES_BEFORE=0
if [ "$ROLE" = hub ]; then
  MOSQ_CHANGES_BEFORE=$CHANGES
  ensure_dir "$MOSQ_ETC/ews" 0750 root:mosquitto
  ensure_file "$SRC/deploy/mosquitto/ews-hub.conf" "$MOSQ_ETC/conf.d/ews.conf" 0644 root:root
  make_pki
  if [ -f "$ETC/pki/ca.crt" ]; then  # absent only in a dry run
    ensure_file "$ETC/pki/ca.crt" "$MOSQ_ETC/ews/ca.crt" 0644 root:root
    ensure_file "$ETC/pki/ca.crt" "$ETC/ca.crt" 0644 root:root
  fi
  ensure_owner "$MOSQ_ETC/ews/server.key" root:mosquitto
  # The hub's own account; `ews gateway` rewrites the ACL only when its content changes.
  acl_before="$(digest "$MOSQ_ETC/ews/acl" "$MOSQ_ETC/ews/passwd")"
  owner_opt=(); in_prefix || owner_opt=(--owner ews)
  if [ "$DRY" = 1 ]; then
    say "would ensure broker account ews-hub (ews gateway add ews-hub --role hub --if-missing)"
  else
    "${EWS[@]}" gateway --password-file "$MOSQ_ETC/ews/passwd" --acl-file "$MOSQ_ETC/ews/acl" \
      --acl-template "$OPT/src/deploy/mosquitto/acl.template" --secrets-dir "$ETC/secrets" \
      add ews-hub --role hub --if-missing "${owner_opt[@]}" >/dev/null
  fi
  [ "$acl_before" = "$(digest "$MOSQ_ETC/ews/acl" "$MOSQ_ETC/ews/passwd")" ] ||
    changed "broker account ews-hub and ACL written"
  for f in acl passwd; do ensure_owner "$MOSQ_ETC/ews/$f" root:mosquitto; done

  if [ -n "$COUNTY" ]; then
    secret="$ETC/secrets/bridge.password"
    [ -f "$secret" ] || die "bridge: put the county's password for bridge-$VILLAGE in $secret (mode 0600) first"
    [ -f "$MOSQ_ETC/ews/county-ca.crt" ] || die "bridge: put the county CA certificate in $MOSQ_ETC/ews/county-ca.crt"
    bridge="$(sed -e "s/@@VILLAGE@@/$VILLAGE/g" -e "s/@@COUNTY_HOST@@/${COUNTY%:*}/g" \
      -e "s/@@COUNTY_PORT@@/${COUNTY##*:}/g" "$SRC/deploy/mosquitto/bridge-county.conf")"
    # The password goes in with bash, never through a command line other users could see.
    bridge="${bridge//@@BRIDGE_PASSWORD@@/$(tr -d '\n' <"$secret")}"
    ensure_text "$MOSQ_ETC/conf.d/ews-bridge.conf" 0640 root:mosquitto "$bridge"
  fi

  if ! in_prefix && [ "$CHANGES" != "$MOSQ_CHANGES_BEFORE" ]; then
    changed "restart mosquitto for the new configuration"
    run systemctl enable mosquitto
    run systemctl restart mosquitto
  fi
  # Debian's influxd listens on all interfaces without auth; the hub, Grafana and backups are local.
  influx_conf="$ROOT/etc/influxdb/influxdb.conf"
  before_influx=$CHANGES
  if [ -f "$influx_conf" ]; then
    tmp="$(mktemp)"
    sed -e 's|^  # bind-address = ":8086"$|  bind-address = "127.0.0.1:8086"|' "$influx_conf" >"$tmp"
    ensure_file "$tmp" "$influx_conf" 0644 root:root
    rm -f "$tmp"
  fi
  if ! in_prefix; then
    if [ "$CHANGES" != "$before_influx" ]; then run systemctl restart influxdb; fi
    systemctl is-active -q influxdb || { changed "start influxdb"; run systemctl enable --now influxdb; }
    # apply.py creates only what is missing or different; it changes nothing on a rerun.
    run "$VENV/bin/python" "$OPT/src/deploy/influxdb/apply.py" --url http://127.0.0.1:8086
  else
    say "skipping InfluxDB setup in a prefix: run deploy/influxdb/apply.py on first boot"
  fi

  # Grafana's dashboards, for its file provider (deploy/grafana/provisioning/dashboards/ews.yaml). Not in
  # /var/lib/ews or /etc/ews: the grafana user may not enter those (0750). Not in $OPT/src, whose modes
  # follow the checkout's. A directory of their own, world-readable, that reruns keep in step with the repo.
  dash="$OPT/grafana/dashboards"
  ensure_dir "$OPT/grafana" 0755 root:root
  ensure_dir "$dash" 0755 root:root
  for f in "$SRC"/dashboards/*.json; do ensure_file "$f" "$dash/${f##*/}" 0644 root:root; done
  for f in "$dash"/*.json; do
    if [ -e "$f" ] && [ ! -e "$SRC/dashboards/${f##*/}" ]; then
      changed "remove stale $f"
      run rm -f "$f"
    fi
  done
  # The provider itself, when Grafana is installed here (it may run on another machine: docs/dashboards.md).
  provider="$ROOT/etc/grafana/provisioning/dashboards"
  if [ -d "$provider" ]; then
    before_grafana=$CHANGES
    ensure_file "$SRC/deploy/grafana/provisioning/dashboards/ews.yaml" "$provider/ews.yaml" 0644 root:root
    if ! in_prefix && [ "$CHANGES" != "$before_grafana" ] && systemctl is-active -q grafana-server; then
      run systemctl restart grafana-server  # a new provider is read at start only
    fi
  fi
fi

# ---- 4. systemd unit -----------------------------------------------------------------------------
unit="ews-$ROLE.service"
before=$CHANGES
ensure_file "$SRC/deploy/systemd/$unit" "$UNIT_DIR/$unit" 0644 root:root
if in_prefix; then
  link="$UNIT_DIR/multi-user.target.wants/$unit"
  if [ ! -L "$link" ]; then
    changed "enable $unit in $ROOT"
    run systemctl --root="$ROOT" enable "$unit" >/dev/null 2>&1 || run ln -sfn "/etc/systemd/system/$unit" "$link"
  fi
else
  [ "$CHANGES" = "$before" ] || run systemctl daemon-reload
  systemctl is-enabled -q "$unit" 2>/dev/null || { changed "enable $unit"; run systemctl enable "$unit"; }
  if [ -f "$ETC/$ROLE.yaml" ]; then
    if ! systemctl is-active -q "$unit"; then
      changed "start $unit"
      run systemctl start "$unit"
    elif [ "$CHANGES" != "$before" ] || [ "$CODE_CHANGED" != 0 ]; then
      changed "restart $unit for the new code or unit file"
      run systemctl restart "$unit"
    fi
  else
    say "write $ETC/$ROLE.yaml, then: systemctl start $unit"
  fi
fi

say "role=$ROLE root=${ROOT:-/} changes: $CHANGES"
