# Shared settings and helpers of scripts/pbx-up, pbx-down and pbx-env. Sourced, never run.
#
# Layout (all under a git-ignored cache, so a prepared root is reused between runs):
#   $INTAKE_CACHE               default <repo>/.cache
#   $INTAKE_CACHE/asterisk-root the unpacked Debian sid Asterisk, run under chroot
#   $INTAKE_CACHE/apt-sid       private apt state (lists, downloaded .debs): nothing touches the host's apt
#   $INTAKE_CACHE/ami-secret    the AMI password of user "intake" (mode 600), unless INTAKE_AMI_SECRET is set
#
# A second Asterisk on the same host (a second PBX site) is another INTAKE_CACHE (its own root,
# copied from the prepared one at $INTAKE_PBX_SEED, default <repo>/.cache/asterisk-root, with no
# download), with its own INTAKE_AMI_PORT, INTAKE_SIP_PORT and RTP range INTAKE_RTP_START..END:
#   INTAKE_CACHE=.cache/site-b INTAKE_AMI_PORT=5142 INTAKE_SIP_PORT=5162 \
#       INTAKE_RTP_START=40000 INTAKE_RTP_END=44999 scripts/pbx-up
# shellcheck shell=bash

PBX_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PBX_CACHE="${INTAKE_CACHE:-$PBX_REPO/.cache}"
PBX_ROOT="$PBX_CACHE/asterisk-root"
PBX_APT="$PBX_CACHE/apt-sid"
PBX_STAMP="$PBX_ROOT/.intake-prepared"
PBX_SECRET_FILE="$PBX_CACHE/ami-secret"
PBX_AMI_HOST=127.0.0.1
PBX_AMI_PORT="${INTAKE_AMI_PORT:-5038}"
PBX_AMI_USER=intake
# The tests' own AMI user (manager.conf [test-driver]): intake's may not hang up calls.
PBX_AMI_DRIVER_USER=test-driver
PBX_SIP_PORT="${INTAKE_SIP_PORT:-5060}"
# Asterisk's own RTP ports (config/asterisk/rtp.conf): two Asterisks on one host need two ranges,
# and neither may overlap the test phones' (tests/support/sip/endpoints.py: 20000-39999).
PBX_RTP_START="${INTAKE_RTP_START:-10000}"
PBX_RTP_END="${INTAKE_RTP_END:-19999}"
PBX_SEED="${INTAKE_PBX_SEED:-$PBX_REPO/.cache/asterisk-root}"
PBX_BOOT_TIMEOUT="${INTAKE_PBX_BOOT_TIMEOUT:-30}"

log() { printf 'pbx: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Run "$@" up to 3 times with a growing pause: the package mirror sometimes drops a connection.
retry() {
    local attempt
    for attempt in 1 2 3; do
        "$@" && return 0
        [ "$attempt" -lt 3 ] && { log "attempt $attempt of: $* failed; retrying in $((attempt * 3)) s"; sleep $((attempt * 3)); }
    done
    return 1
}

# asterisk -rx inside the root; quiet and non-fatal, callers test the status.
pbx_rx() { chroot "$PBX_ROOT" /usr/sbin/asterisk -rx "$1" 2>/dev/null; }

# PIDs of every process whose root directory is our chroot: the precise way to find our Asterisk
# (and nothing else) after a crash left a stale pid file behind.
pbx_pids() {
    local p root real
    real="$(readlink -f "$PBX_ROOT" 2>/dev/null)" || return 0
    for p in /proc/[0-9]*; do
        root="$(readlink "$p/root" 2>/dev/null)" || continue
        [ "$root" = "$real" ] && printf '%s\n' "${p#/proc/}"
    done
    return 0
}

pbx_running() { [ -n "$(pbx_pids)" ] && pbx_rx 'core show version' >/dev/null; }

ami_port_open() { (exec 3<>"/dev/tcp/$PBX_AMI_HOST/$PBX_AMI_PORT") 2>/dev/null; }

# One pbx-up/pbx-down at a time per cache (parallel test sessions would race on the root).
pbx_lock() {
    mkdir -p "$PBX_CACHE"
    exec 9>"$PBX_CACHE/.pbx.lock"
    flock -w 300 9 || die "another pbx-up/pbx-down holds $PBX_CACHE/.pbx.lock"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
