# shellcheck shell=bash
# Shared setup for scripts/serve and scripts/test. Sourced, never executed.
#
# Provides:
#   ensure_venv serve|test|bench  create .venv and install the project (with the test extra
#                               for "test", the test and bench extras for "bench")
#   resolve_database_url DBNAME export DATABASE_URL (environment, local server, or private cluster)
#   stop_private_postgres       stop the private cluster, only if this process started it
#   mask_url URL                print URL with any password replaced by ***
#
# Environment knobs:
#   LEDGER_PYTHON           interpreter used to create .venv (default: first python3.x >= 3.11)
#   DATABASE_URL            used as is when set
#   LEDGER_LOCAL_PG_HOST    where to look for a running server (default 127.0.0.1)
#   LEDGER_LOCAL_PG_PORT    (default 5432)
#   LEDGER_PRIVATE_PG_PORT  port of the private cluster in var/postgres (default 54329)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    printf 'error: %s is meant to be sourced by scripts/serve or scripts/test\n' "$0" >&2
    exit 2
fi

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
VENV="$ROOT/.venv"
PRIVATE_PG_DIR="$ROOT/var/postgres"
PRIVATE_PG_DATA="$PRIVATE_PG_DIR/data"
PRIVATE_PG_SOCKETS="$PRIVATE_PG_DIR/run"
PRIVATE_PG_LOG="$ROOT/var/postgres.log"
# Set to the bin directory once this process has started the private cluster, so that the
# exit trap never stops a server somebody else started.
PRIVATE_PG_STARTED_BY_US=""
PRIVATE_PG_PORT=""

info() { printf '%s\n' "$@" >&2; }
die() {
    printf 'error: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

# --- virtual environment ------------------------------------------------------------------

_python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

_find_python() {
    local candidate
    if [[ -n "${LEDGER_PYTHON:-}" ]]; then
        _python_ok "$LEDGER_PYTHON" || die "LEDGER_PYTHON=$LEDGER_PYTHON is not a Python >= 3.11"
        printf '%s\n' "$LEDGER_PYTHON"
        return
    fi
    for candidate in python3 python3.14 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && _python_ok "$candidate"; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    local found="none"
    command -v python3 >/dev/null 2>&1 && found="$(python3 --version 2>&1)"
    die "Python >= 3.11 is required (python3 on PATH: $found)" \
        "install Python 3.11 or newer, or point LEDGER_PYTHON at one"
}

_sha256() {
    "$VENV/bin/python" -c \
        'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
        "$1"
}

# ensure_venv serve|test|bench
ensure_venv() {
    local mode="${1:?ensure_venv needs serve, test or bench}" spec
    case "$mode" in
        bench) spec=".[test,bench]" ;;
        test) spec=".[test]" ;;
        serve) spec="." ;;
        *) die "ensure_venv: unknown mode '$mode' (expected serve, test or bench)" ;;
    esac

    if [[ ! -e "$VENV" ]]; then
        local python
        python="$(_find_python)"
        info "creating $VENV with $("$python" --version 2>&1)"
        if ! "$python" -m venv "$VENV"; then
            rm -rf -- "$VENV"
            die "could not create $VENV" \
                "on Debian/Ubuntu the venv module is in the python3-venv package"
        fi
    fi
    if [[ ! -x "$VENV/bin/python" ]] || ! _python_ok "$VENV/bin/python"; then
        die "$VENV exists but its python is missing or older than 3.11" \
            "remove it (rm -rf .venv) and run this script again"
    fi

    # The stamp records which pyproject.toml was installed and with which extras; "bench"
    # is a superset of "test", which is one of "serve", so an install satisfies those below.
    local stamp="$VENV/.ledger-install-stamp" digest installed=""
    digest="$(_sha256 "$ROOT/pyproject.toml")"
    [[ -f "$stamp" ]] && installed="$(<"$stamp")"
    if [[ "$installed" == "$digest bench" || "$installed" == "$digest $mode" ]] ||
        [[ "$installed" == "$digest test" && "$mode" == serve ]]; then
        return 0
    fi

    info "installing the project into .venv (pip install -e \"$spec\") ..."
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/ledger-pip.XXXXXX")"
    if ! (cd "$ROOT" && "$VENV/bin/python" -m pip install --disable-pip-version-check \
        --no-input -e "$spec") >"$log" 2>&1; then
        cat "$log" >&2
        rm -f -- "$log"
        die "pip install -e \"$spec\" failed (output above)"
    fi
    rm -f -- "$log"
    printf '%s %s\n' "$digest" "$mode" >"$stamp"
}

# --- database -----------------------------------------------------------------------------

# mask_url URL: hide the password of postgresql://user:password@host/db and of ?password=...
mask_url() {
    local url="$1"
    local re='^([A-Za-z][A-Za-z0-9+.-]*://)([^:@/]*):(.*)@([^@]*)$'
    if [[ "$url" =~ $re ]]; then
        url="${BASH_REMATCH[1]}${BASH_REMATCH[2]}:***@${BASH_REMATCH[4]}"
    fi
    printf '%s\n' "$url" | sed -E 's/([?&][Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]=)[^&]*/\1***/g'
}

# Exit status: 0 the server let user postgres in, 1 nothing (PostgreSQL) listens there,
# 2 a PostgreSQL server answered but refused the login (reason on stderr), 3 no asyncpg.
_PG_PROBE='
import asyncio, sys
try:
    import asyncpg
except ImportError:
    sys.exit(3)

async def probe(host, port):
    try:
        conn = await asyncpg.connect(
            host=host, port=port, user="postgres", database="postgres", timeout=3
        )
    except asyncpg.InvalidCatalogNameError:
        return 0  # logged in; only the "postgres" database is missing
    except (OSError, TimeoutError, asyncpg.InterfaceError,
            asyncpg.exceptions.ConnectionDoesNotExistError):
        return 1
    except asyncpg.PostgresError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    await conn.close()
    return 0

sys.exit(asyncio.run(probe(sys.argv[1], int(sys.argv[2]))))
'

# _pg_probe HOST PORT -> status as described above
_pg_probe() {
    local status=0
    "$VENV/bin/python" -c "$_PG_PROBE" "$1" "$2" || status=$?
    if ((status == 3)) && command -v pg_isready >/dev/null 2>&1; then
        status=0
        pg_isready -q -h "$1" -p "$2" -U postgres -t 3 || status=1
    fi
    return "$status"
}

# Prints the directory holding initdb and pg_ctl: PATH first, else the highest
# /usr/lib/postgresql/<version>/bin. Fails when there is none.
_find_pg_bindir() {
    local initdb pg_ctl dir
    initdb="$(command -v initdb 2>/dev/null || true)"
    pg_ctl="$(command -v pg_ctl 2>/dev/null || true)"
    if [[ -n "$initdb" && -n "$pg_ctl" ]]; then
        # Prefer the real directory behind a symlinked initdb (/usr/local/bin/initdb ->
        # /usr/lib/postgresql/15/bin/initdb), so messages name the version in use.
        dir="$(dirname -- "$(readlink -f -- "$initdb" 2>/dev/null || printf '%s' "$initdb")")"
        if [[ -x "$dir/pg_ctl" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
        if [[ "$(dirname -- "$initdb")" == "$(dirname -- "$pg_ctl")" ]]; then
            dirname -- "$initdb"
            return 0
        fi
    fi
    while IFS= read -r dir; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -rV)
    return 1
}

# Runs a PostgreSQL server binary as the cluster's owner: the postgres OS user when we are
# root (initdb and postgres refuse to run as root), ourselves otherwise.
_as_pg_owner() {
    if ((EUID == 0)); then
        (cd "$PRIVATE_PG_DIR" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

_prepare_private_dir() {
    mkdir -p -- "$PRIVATE_PG_DATA" "$PRIVATE_PG_SOCKETS"
    chmod 700 "$PRIVATE_PG_DATA"
    touch -- "$PRIVATE_PG_LOG"
    if ((EUID == 0)); then
        if ! id -u postgres >/dev/null 2>&1; then
            die "running as root, but there is no 'postgres' OS user to own the private cluster" \
                "PostgreSQL refuses to run as root; create the user (useradd --system postgres)," \
                "run as a normal user, or set DATABASE_URL"
        fi
        chown -R postgres: -- "$PRIVATE_PG_DIR" "$PRIVATE_PG_LOG"
        if ! runuser -u postgres -- test -w "$PRIVATE_PG_DATA"; then
            die "the postgres OS user cannot reach $PRIVATE_PG_DATA" \
                "a parent directory is not searchable by others; move the checkout or set DATABASE_URL"
        fi
    fi
}

# _start_private_postgres PORT: sets PRIVATE_PG_PORT to the port the cluster listens on.
_start_private_postgres() {
    local port="$1" bindir
    bindir="$(_find_pg_bindir)" || return 1
    local socket="$PRIVATE_PG_SOCKETS/.s.PGSQL.$port"
    if ((${#socket} > 103)); then
        die "the socket path $socket is too long for a Unix socket (over 103 bytes)" \
            "move the checkout to a shorter path or set DATABASE_URL"
    fi
    if [[ "$PRIVATE_PG_SOCKETS" == *"'"* ]]; then
        die "the checkout path must not contain a single quote: $ROOT"
    fi
    _prepare_private_dir

    if [[ ! -f "$PRIVATE_PG_DATA/PG_VERSION" ]]; then
        info "initialising a private PostgreSQL cluster in var/postgres ($bindir)"
        local log
        log="$(mktemp "${TMPDIR:-/tmp}/ledger-initdb.XXXXXX")"
        if ! _as_pg_owner "$bindir/initdb" -D "$PRIVATE_PG_DATA" -U postgres -A trust -E UTF8 \
            --locale=C >"$log" 2>&1; then
            cat "$log" >&2
            rm -f -- "$log"
            die "initdb failed (output above)"
        fi
        rm -f -- "$log"
    fi

    if _as_pg_owner "$bindir/pg_ctl" -D "$PRIVATE_PG_DATA" status >/dev/null 2>&1; then
        # Already running (another serve or test): use it, and leave it running afterwards.
        PRIVATE_PG_PORT="$(sed -n 4p "$PRIVATE_PG_DATA/postmaster.pid")"
        info "private PostgreSQL already running in var/postgres on port $PRIVATE_PG_PORT"
        return 0
    fi

    info "starting private PostgreSQL on 127.0.0.1:$port (log: var/postgres.log)"
    if ! _as_pg_owner "$bindir/pg_ctl" -D "$PRIVATE_PG_DATA" -l "$PRIVATE_PG_LOG" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k '$PRIVATE_PG_SOCKETS'" start >/dev/null; then
        tail -n 20 -- "$PRIVATE_PG_LOG" >&2 || true
        die "could not start the private PostgreSQL (end of var/postgres.log above)"
    fi
    PRIVATE_PG_STARTED_BY_US="$bindir"
    PRIVATE_PG_PORT="$port"
}

# stop_private_postgres: stops the private cluster if, and only if, this process started it.
stop_private_postgres() {
    local bindir="$PRIVATE_PG_STARTED_BY_US"
    [[ -n "$bindir" ]] || return 0
    PRIVATE_PG_STARTED_BY_US=""
    info "stopping the private PostgreSQL in var/postgres"
    _as_pg_owner "$bindir/pg_ctl" -D "$PRIVATE_PG_DATA" -m fast -w stop >/dev/null ||
        info "warning: could not stop the private PostgreSQL (see var/postgres.log)"
}

# resolve_database_url DBNAME: exports DATABASE_URL.
resolve_database_url() {
    local dbname="${1:?resolve_database_url needs a database name}"
    if [[ -n "${DATABASE_URL:-}" ]]; then
        info "using DATABASE_URL from the environment"
        export DATABASE_URL
        return 0
    fi

    local host="${LEDGER_LOCAL_PG_HOST:-127.0.0.1}" port="${LEDGER_LOCAL_PG_PORT:-5432}"
    local status=0
    _pg_probe "$host" "$port" || status=$?
    case "$status" in
        0)
            info "PostgreSQL answers at $host:$port"
            export DATABASE_URL="postgresql://postgres@$host:$port/$dbname"
            return 0
            ;;
        2)
            die "a PostgreSQL server at $host:$port refused user postgres without a password" \
                "set DATABASE_URL=postgresql://USER:PASSWORD@$host:$port/$dbname"
            ;;
        *) ;; # nothing usable there: try a private cluster
    esac

    local private_port="${LEDGER_PRIVATE_PG_PORT:-54329}"
    if _find_pg_bindir >/dev/null; then
        _start_private_postgres "$private_port"
        export DATABASE_URL="postgresql://postgres@127.0.0.1:$PRIVATE_PG_PORT/$dbname"
        return 0
    fi

    die "no PostgreSQL to use. Any one of these will do:" \
        "1. set DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/$dbname" \
        "   (the database is created if missing);" \
        "2. run a PostgreSQL server on $host:$port that lets user postgres in without a" \
        "   password (trust authentication);" \
        "3. install the PostgreSQL server binaries (initdb and pg_ctl on PATH or under" \
        "   /usr/lib/postgresql/*/bin, e.g. apt-get install postgresql) and a private" \
        "   cluster is started in var/postgres on 127.0.0.1:$private_port."
}
