#!/bin/sh
# Start agentproc in a Coder workspace, beside Coder's own agent: run this from the template's
# coder_agent startup_script (README.md, "Deploying", shows the template lines).
#
# It installs the wheel into its own virtualenv (with uv if the image has it, else pip; again
# at each run, so that running it with a new wheel upgrades and restarts the agent), keeps a
# token in a file only the workspace user can read, and serves on loopback: Coder's port forwarding (`coder port-forward`, the
# workspace's tailnet) reaches 127.0.0.1 inside the workspace, so the agent needs no other
# address. It returns once /healthz answers, leaving the agent running in the background.
#
# Variables (all optional but the first):
#   AGENTPROC_WHEEL       path or URL of the agentproc wheel to install
#   AGENTPROC_HOME        where the virtualenv, token, log and state live ($HOME/.agentproc)
#   AGENTPROC_PORT        the port on 127.0.0.1 (7420)
#   AGENTPROC_TOKEN_FILE  the token; made up (32 random bytes) when the file does not exist
#   AGENTPROC_GIT_ASKPASS=1  answer git's credential prompts through Coder, with the
#                         workspace's CODER_AGENT_URL and CODER_AGENT_TOKEN
# Every other AGENTPROC_* variable of `agentproc serve --help` is passed on as it is.
set -eu

wheel="${AGENTPROC_WHEEL:?set AGENTPROC_WHEEL to the path or URL of the agentproc wheel}"
home="${AGENTPROC_HOME:-$HOME/.agentproc}"
port="${AGENTPROC_PORT:-7420}"
token_file="${AGENTPROC_TOKEN_FILE:-$home/token}"
unset AGENTPROC_PORT AGENTPROC_TOKEN_FILE  # given as flags below

mkdir -p "$home"
chmod 0700 "$home"
if command -v uv >/dev/null 2>&1; then  # much faster where the image has it
    [ -x "$home/venv/bin/python" ] || uv venv --quiet --python python3 "$home/venv"
    uv pip install --quiet --python "$home/venv/bin/python" "$wheel"
else
    [ -x "$home/venv/bin/python" ] || python3 -m venv "$home/venv"
    "$home/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
fi

if [ ! -s "$token_file" ]; then
    (umask 077 && "$home/venv/bin/python" -c \
        'import secrets; print(secrets.token_urlsafe(32))' > "$token_file")
fi

if [ "${AGENTPROC_GIT_ASKPASS:-0}" = 1 ]; then
    export AGENTPROC_CONTROL_PLANE_URL="${AGENTPROC_CONTROL_PLANE_URL:-${CODER_AGENT_URL:-}}"
    export AGENTPROC_CONTROL_PLANE_TOKEN="${AGENTPROC_CONTROL_PLANE_TOKEN:-${CODER_AGENT_TOKEN:-}}"
fi

# An agent this script started before is stopped first (it stops its own processes), so
# that running the script again restarts the agent on the wheel just installed.
if [ -s "$home/agent.pid" ]; then
    old=$(cat "$home/agent.pid")
    # A pid left from before a reboot may be another program's by now: check it is ours.
    if tr '\0' ' ' 2>/dev/null <"/proc/$old/cmdline" | grep -q "$home/venv/bin/agentproc serve"
    then
        kill -TERM "$old"
        # Gone, or a zombie its new parent has yet to reap; SIGKILL after a minute.
        waited=0
        while [ -r "/proc/$old/stat" ] &&
            [ "$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$old/stat")" != Z ]; do
            [ "$waited" -lt 300 ] || kill -KILL "$old" 2>/dev/null || true
            sleep 0.2
            waited=$((waited + 1))
        done
    fi
fi

# Detached from the startup script (Coder waits for a script's own output to close), and
# stopped with the workspace; the pid file says which process to stop by hand.
nohup "$home/venv/bin/agentproc" serve \
    --host 127.0.0.1 --port "$port" \
    --token-file "$token_file" \
    --state-dir "$home/state" \
    </dev/null >>"$home/agent.log" 2>&1 &
echo $! > "$home/agent.pid"

"$home/venv/bin/python" - "$port" "$home/agent.pid" <<'PY'
import os, sys, time, urllib.request

port, pid_file = sys.argv[1], sys.argv[2]
pid = int(open(pid_file).read())
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("agentproc exited at start; see agent.log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            print(f"agentproc: serving on 127.0.0.1:{port}")
            sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("agentproc did not answer /healthz within 60 s; see agent.log")
PY
