# shellcheck shell=bash
# Helpers for cross/build, cross/test, cross/size and tests/matrix; source it, do not run it.
#   cross_board BOARD      read board/BOARD.toml: sets BOARD, TARGET, PROFILE, FEATURE_ARGS
#                          (array), MAX_BINARY_BYTES, and the target's toolchain (TC_*)
#   cross_target TRIPLE    the toolchain alone, for a triple without a board (cross/size)
#   cross_toolchain build|qemu  install what the target needs (rustup target, Debian packages;
#                          only what is missing) and export the C compiler, linker and flags
#                          for cargo; with "qemu", also the qemu-user runner
#   cross_features         user-facing features that some code uses, one per line
#   cross_bin PROFILE      where cargo put the binary for TARGET and PROFILE
#   cross_size FILE, cross_loaded FILE   its bytes on disk, and the bytes it loads
# Reading TOML needs python3 (3.11+, Debian 12's), installed if missing.

# Run from inside Cargo (a build script, `cargo test`), these would leak into our own cargo
# runs: OUT_DIR and CARGO_MANIFEST_DIR point at the caller's build, and changed environment
# variables make build scripts that watch them run again, rebuilding everything.
unset OUT_DIR CARGO_MANIFEST_DIR CARGO_PRIMARY_PACKAGE CARGO_CRATE_NAME CARGO_BIN_NAME CARGO_TARGET_TMPDIR
CROSS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CROSS_DIR/.." && pwd)

cross_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
cross_die() { cross_log "error: $*"; exit 1; }

# cross_need_debian PKG...: apt-get install the packages that dpkg does not know yet.
cross_need_debian() {
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || cross_die "missing Debian packages ${missing[*]} (root installs them)"
    cross_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cross_python() {
    command -v python3 >/dev/null || cross_need_debian python3-minimal
    python3 "$@"
}

cross_host() { rustc -vV | sed -n 's/^host: //p'; }

# Prints shell assignments for one target triple from toolchains.toml (and a board, if given).
_cross_read() {
    cross_python - "$CROSS_DIR/toolchains.toml" "$(cross_host)" "$@" <<'PY'
import shlex, sys, tomllib
toolchains, host, target = sys.argv[1], sys.argv[2], sys.argv[3]
board = sys.argv[4] if len(sys.argv) > 4 else None
def say(name, value):
    print(f"{name}={shlex.quote(str(value))}")
if board:
    with open(board, "rb") as f:
        b = tomllib.load(f)  # build.rs checks every key; only what the scripts need is read
    target = b.get("target", host)
    say("PROFILE", b.get("cargo_profile", "release"))
    say("MAX_BINARY_BYTES", b.get("max_binary_bytes", ""))
    features = b.get("features")
    print("FEATURE_ARGS=(" + (" ".join(["--no-default-features", "--features",
          shlex.quote(",".join(features))]) if features is not None else "") + ")")
say("TARGET", target)
with open(toolchains, "rb") as f:
    tc = tomllib.load(f).get(target)
if tc is None:
    sys.exit(f"{target} is not in cross/toolchains.toml; add a table for it")
unknown = set(tc) - {"debian", "cc", "qemu", "rustflags", "rust"}
if unknown:
    sys.exit(f"cross/toolchains.toml [{target}]: unknown keys {sorted(unknown)}")
say("TC_DEBIAN", " ".join(tc.get("debian", [])))
say("TC_CC", tc.get("cc", "cc"))
say("TC_QEMU", tc.get("qemu", ""))
say("TC_RUSTFLAGS", tc.get("rustflags", ""))
say("TC_RUST", tc.get("rust", ""))
PY
}

cross_board() {
    BOARD=$1
    local file=$REPO/board/$BOARD.toml vars known=() f
    if [[ ! -f $file ]]; then
        for f in "$REPO"/board/*.toml; do known+=("$(basename "$f" .toml)"); done
        cross_die "no board $BOARD (boards: ${known[*]})"
    fi
    vars=$(_cross_read "" "$file") || cross_die "cannot read $file"
    eval "$vars"
}

cross_target() {
    local vars
    vars=$(_cross_read "$1") || cross_die "cannot use target $1"
    eval "$vars"
}

cross_toolchain() {
    local with_qemu=$1 upper=${TARGET^^}
    upper=${upper//-/_}
    # shellcheck disable=SC2086 # a list of package names
    cross_need_debian $TC_DEBIAN
    [[ $with_qemu == qemu && -n $TC_QEMU ]] && cross_need_debian qemu-user-static
    command -v rustup >/dev/null || cross_die "rustup is needed to add the target $TARGET"
    if [[ -n $TC_RUST ]]; then
        # A target pinned to a toolchain (toolchains.toml `rust`): cargo and rustc below use it.
        rustup toolchain list | grep -q "^$TC_RUST" || {
            cross_log "rustup toolchain install $TC_RUST -t $TARGET"
            rustup toolchain install "$TC_RUST" --profile minimal -t "$TARGET" >&2
        }
        export RUSTUP_TOOLCHAIN=$TC_RUST
    fi
    rustup target list --installed | grep -qx "$TARGET" || {
        cross_log "rustup target add $TARGET"
        rustup target add "$TARGET" >&2
    }
    # ring's build script compiles C and assembly with CC_<triple> and AR_<triple>.
    export "CC_${TARGET//-/_}=$TC_CC" "AR_${TARGET//-/_}=${TC_CC%gcc}ar"
    export "CARGO_TARGET_${upper}_LINKER=$TC_CC"
    [[ -z $TC_RUSTFLAGS ]] || export "CARGO_TARGET_${upper}_RUSTFLAGS=$TC_RUSTFLAGS"
    [[ $with_qemu == qemu && -n $TC_QEMU ]] && export "CARGO_TARGET_${upper}_RUNNER=$TC_QEMU"
    return 0
}

cross_features() {
    cross_python - "$REPO/Cargo.toml" <<'PY' | while read -r f; do
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    features = tomllib.load(f).get("features", {})
for name in features:
    if name != "default" and not name.startswith("_"):
        print(name)
PY
        # A reserved name that no code tests yet builds the same binary as leaving it out.
        grep -rqF "feature = \"$f\"" "$REPO/src" && printf '%s\n' "$f"
    done
}

cross_bin() {
    local dir=${CARGO_TARGET_DIR:-$REPO/target}
    [[ $1 == dev ]] && set -- debug
    printf '%s/%s/%s/pcmk-remoted\n' "$dir" "$TARGET" "$1"
}

# Bytes of a file.
cross_size() { stat -c %s "$1"; }

# Bytes an ELF file loads (code, read-only and initialised data): the file size without the
# padding between segments, which is rounded to the target's largest page (64 KiB on aarch64)
# and would hide what a feature adds.
cross_loaded() {
    local sum=0 h
    for h in $(readelf -lW "$1" | awk '$1 == "LOAD" {print $5}'); do sum=$((sum + h)); done
    echo "$sum"
}

# Fails unless FILE is a static executable: no program interpreter, no shared libraries.
cross_check_static() {
    if readelf -lW "$1" | grep -q 'Requesting program interpreter' ||
        readelf -dW "$1" 2>/dev/null | grep -q '(NEEDED)'; then
        cross_die "$1 is not static: $(readelf -dW "$1" | grep NEEDED | tr -s ' ' | tr '\n' ';')"
    fi
}
