# Shared by scripts/app and scripts/test: make (once) and activate the virtual environment.
# It lives OUTSIDE the app folder: Streamlit's file watcher overflows on a venv beside the app.
set -euo pipefail
VENV="${MNISTKIT_VENV:-$HOME/.venvs/mnistkit}"
REQ="${1:-requirements.txt}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating the virtual environment in $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
# Reinstall only when the requirements changed since the last install.
stamp="$VENV/.mnistkit-$(basename "$REQ").sha"
want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $REQ (about a minute the first time)"
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
