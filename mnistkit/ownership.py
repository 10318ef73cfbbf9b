"""Who owns a run or a job, and who may change it: the classroom policy in one place.

An identity is a secret the browser keeps (or a login account); the server never stores the
secret itself, only ``owner_id(key, secret)``: an HMAC under a random server key kept in the
runs folder (``KEY_FILE``, mode 0600). A run's ``status.json`` holds ``owner``, ``owner_name``
and ``owner_sig`` (an HMAC over the run id and both fields), so a run folder copied in from
elsewhere or edited by hand cannot claim an owner: it is "unverified" and treated like a run
made before owners existed. Standard library only; pages ask `may_change_run` and
`may_control_job` and never decide themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistkit.atomic import atomic_write_json
from mnistkit.errors import MnistkitError
from mnistkit.runs import RunInfo, RunStore

KEY_FILE = ".owner-key"  # hidden: run listings skip it
NAMES_FILE = ".names.json"  # owner id → display name
NAME_MAX = 40  # characters of a display name
SECRET_MIN = 16  # characters a browser secret must have to be accepted


@dataclass(frozen=True)
class Actor:
    """Who is asking: an owner id (never the secret), a display name, and the teacher flag.

    ``teacher_code_set`` is whether this server has a teacher at all: without one, runs
    made before owners existed are anyone's to delete (a single-user laptop keeps working).
    """

    owner_id: str
    name: str | None = None
    kind: str = "browser"  # "browser" (a secret in a cookie) or "account" (st.login)
    teacher: bool = False
    teacher_code_set: bool = False

    @property
    def label(self) -> str:
        """The name to show: the display name, else "anonymous-" and a short tag."""
        return self.name or anonymous_label(self.owner_id)


@dataclass(frozen=True)
class RunOwner:
    """A run's owner as verified against the server key: ``owner_id`` None when unknown."""

    owner_id: str | None
    name: str | None
    state: str  # "owned", "none" (made before owners) or "unverified" (forged or foreign)

    @property
    def label(self) -> str:
        if self.state == "none":
            return "(no owner)"
        if self.state == "unverified":
            return f"{self.name or '?'} (unverified)"
        return self.name or anonymous_label(self.owner_id or "")


def anonymous_label(owner_id: str) -> str:
    """A stable, harmless tag for a nameless owner (4 hex digits of the owner id)."""
    return f"anonymous-{owner_id[:4] or '?'}"


# --- the server key and owner ids -------------------------------------------------------

_key_lock = threading.Lock()


def server_key(root: str | os.PathLike[str]) -> bytes:
    """The runs folder's random key (made on first use, mode 0600, never shown)."""
    root = Path(root)
    path = root / KEY_FILE
    with _key_lock:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            root.mkdir(parents=True, exist_ok=True)
            data = secrets.token_hex(32).encode()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                return path.read_bytes().strip()
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        return data.strip()


def valid_secret(secret: object) -> bool:
    """A browser secret we made: url-safe characters, long enough not to be guessed."""
    return isinstance(secret, str) and re.fullmatch(r"[A-Za-z0-9_-]{16,128}", secret) is not None


def new_secret() -> str:
    """A fresh browser secret (192 random bits)."""
    return secrets.token_urlsafe(24)


def owner_id(key: bytes, secret: str, kind: str = "browser") -> str:
    """The owner id stored with runs: HMAC-SHA256(key, kind:secret), 32 hex digits."""
    return hmac.new(key, f"{kind}:{secret}".encode(), hashlib.sha256).hexdigest()[:32]


def clean_name(text: object) -> str | None:
    """A display name as plain text: no control or format characters (bidi overrides, zero
    widths), whitespace collapsed, at most NAME_MAX characters; None if nothing is left."""
    text = unicodedata.normalize("NFC", str(text or ""))[: NAME_MAX * 4]
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    text = " ".join(text.split())[:NAME_MAX].strip()
    return text or None


# --- signed owner fields of a run ------------------------------------------------------


def _signature(key: bytes, run_id: str, owner: str, name: str) -> str:
    message = json.dumps(["run-owner", run_id, owner, name]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def owner_fields(key: bytes, actor: Actor, run_id: str) -> dict[str, str]:
    """What a new run's status.json records about its owner (signed with the server key)."""
    name = actor.label
    return {
        "owner": actor.owner_id,
        "owner_name": name,
        "owner_sig": _signature(key, run_id, actor.owner_id, name),
    }


def run_owner(key: bytes, run_id: str, fields: dict[str, Any] | None) -> RunOwner:
    """Read and verify a run's owner fields (``RunInfo.owner``): a wrong or missing signature,
    or fields that are not strings, make it "unverified"; no fields at all, "none"."""
    fields = fields or {}
    owner, name, sig = (fields.get(k) for k in ("owner", "owner_name", "owner_sig"))
    if owner is None and name is None and sig is None:
        return RunOwner(None, None, "none")
    shown = clean_name(name) if isinstance(name, str) else None
    if not all(isinstance(v, str) for v in (owner, name, sig)):
        return RunOwner(None, shown, "unverified")
    good = hmac.compare_digest(_signature(key, run_id, owner, name), sig)
    return RunOwner(owner, shown, "owned") if good else RunOwner(None, shown, "unverified")


# --- the policy --------------------------------------------------------------------------


def may_change_run(actor: Actor, owner: RunOwner) -> bool:
    """Stop, rename, download or delete a run: its owner, or the teacher. A run without a
    verified owner is the teacher's to change when the server has a teacher, else anyone's."""
    if actor.teacher:
        return True
    if owner.state == "owned":
        return hmac.compare_digest(owner.owner_id or "", actor.owner_id)
    return not actor.teacher_code_set


def may_control_job(actor: Actor, job_owner_id: str | None) -> bool:
    """See, stop or cancel a training job: its owner, or the teacher (a link is not enough)."""
    if actor.teacher:
        return True
    return job_owner_id is not None and hmac.compare_digest(job_owner_id, actor.owner_id)


# --- display names, kept by the server per owner ------------------------------------------

_names_lock = threading.Lock()


class NameBook:
    """Display names by owner id in ``root/.names.json`` (atomic writes; one process)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root) / NAMES_FILE

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def get(self, owner: str) -> str | None:
        """The owner's display name, if one was given."""
        return clean_name(self._read().get(owner))

    def set(self, owner: str, name: object) -> str | None:
        """Keep a cleaned display name (None forgets it); returns what was kept."""
        cleaned = clean_name(name)
        with _names_lock:
            names = self._read()
            if cleaned is None:
                names.pop(owner, None)
            else:
                names[owner] = cleaned
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, names)
        return cleaned


# --- acting on runs ------------------------------------------------------------------------


class NotYoursError(MnistkitError):
    """The run or job belongs to someone else."""


def _check(store: RunStore, actor: Actor, run_id: str) -> RunInfo:
    info = store.load(run_id)
    if not may_change_run(actor, run_owner(server_key(store.root), info.run_id, info.owner)):
        raise NotYoursError(
            f"run {info.run_id} is not yours: only its owner or the teacher may change it"
        )
    return info


def delete_run(store: RunStore, actor: Actor, run_id: str) -> None:
    """Delete a run if ``actor`` may (`NotYoursError`); the store still refuses a live one."""
    store.delete(_check(store, actor, run_id).run_id)


def rename_run(store: RunStore, actor: Actor, run_id: str, name: str) -> None:
    """Rename a run (its shown name) if ``actor`` may."""
    store.rename(_check(store, actor, run_id).run_id, name)


def owner_of(store: RunStore, info: RunInfo) -> RunOwner:
    """A listed run's verified owner."""
    return run_owner(server_key(store.root), info.run_id, info.owner)
