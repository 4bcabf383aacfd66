"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne).

WADO-RS frame requests meet ``FramesFastPath`` first: it answers the ones it
can from its caches and hands everything else to Django unchanged
(``reading/studies/dicomweb/fastpath.py`` says why and what that costs). QIDO-RS
searches, rendered images and metadata meet ``ReadFastPath`` next: it runs their
views without the middleware chain when the answer is a success (``fastread.py``).

The embedded SQLite database is kept open by the process for its whole life
(``hold_sqlite_open``). Django closes each request's connection, and SQLite
checkpoints the write-ahead log into the database and deletes it whenever the
last connection closes: about 1.3 ms of syncing on every request that left no
other connection open (a STOW-RS request, a page), instead of SQLite's own
checkpoints every 1000 pages.

Once everything a request needs is imported, the objects that live as long as the
process are frozen out of the garbage collector's reach (``gc.freeze``): a full
collection otherwise walks them all and held a request for 70-100 ms several
times a minute under load (bench/dicomweb.py, docs/benchmarks.md "Archive").
"""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reading.settings")
django.setup(set_prefix=False)

from reading.edge import HandedBodyASGIHandler  # noqa: E402

# Django's handler, reading a body Daphne wrote to a temporary file from that file.
django_asgi_app = HandedBodyASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from reading.edge import BodyLimit, SameOriginWebSocket, install_daphne_limits  # noqa: E402
from reading.realtime import RelayStarter  # noqa: E402
from reading.routing import websocket_urlpatterns  # noqa: E402
from reading.studies.dicomweb.fastpath import FramesFastPath  # noqa: E402
from reading.studies.dicomweb.fastread import ReadFastPath  # noqa: E402

# Bodies over their limit get 413 before they are read (reading/edge.py).
install_daphne_limits()
http_app = FramesFastPath(ReadFastPath(django_asgi_app))

# The relay brings messages from the Huey worker into the in-memory layer (realtime.py).
application = RelayStarter(
    ProtocolTypeRouter(
        {
            "http": BodyLimit(http_app),
            "websocket": SameOriginWebSocket(
                AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
            ),
        }
    )
)


def hold_sqlite_open():
    """An idle connection to the embedded database, attached to its write-ahead log, so that
    closing a request's connection is never closing the last one; None on PostgreSQL."""
    import sqlite3
    from pathlib import Path

    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"] != "django.db.backends.sqlite3" or not Path(database["NAME"]).is_file():
        return None  # PostgreSQL, or no database yet (nothing to create here)
    holder = sqlite3.connect(database["NAME"], check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
    return holder


sqlite_holder = hold_sqlite_open()

# What requests import lazily, imported now so that it is frozen with the rest.
from django.urls import get_resolver  # noqa: E402

import reading.studies.dicomweb.render  # noqa: E402, F401

get_resolver().url_patterns  # noqa: B018 - imports every view module
gc.collect()
gc.freeze()
