"""The secret key: from the environment, or generated once into the data directory.

The embedded default must not run with a key that is in the repository: on
first run a random key is written to ``DATA_DIR/secret_key`` (mode 0600) and
read from there afterwards. In production mode (``PRODUCTION=1``) nothing is
generated: ``SECRET_KEY``, ``SECRET_KEY_FILE`` or an existing
``DATA_DIR/secret_key`` must provide one, else the server refuses to start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_LENGTH = 32


def _checked(key: str, source: str) -> str:
    key = key.strip()
    if len(key) < MIN_LENGTH:
        raise ImproperlyConfigured(f"The secret key from {source} is shorter than {MIN_LENGTH}.")
    return key


def load_secret_key(data_dir: Path, *, production: bool) -> str:
    if os.environ.get("SECRET_KEY"):
        return _checked(os.environ["SECRET_KEY"], "SECRET_KEY")
    if os.environ.get("SECRET_KEY_FILE"):
        path = Path(os.environ["SECRET_KEY_FILE"])
        return _checked(path.read_text(), str(path))
    path = data_dir / "secret_key"
    try:
        return _checked(path.read_text(), str(path))
    except FileNotFoundError:
        if production:
            raise ImproperlyConfigured(
                "PRODUCTION=1 needs SECRET_KEY, SECRET_KEY_FILE or DATA_DIR/secret_key; "
                "refusing to start without one."
            ) from None
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return _checked(path.read_text(), str(path))
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
