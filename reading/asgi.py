"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne).

WADO-RS frame requests meet ``FramesFastPath`` first: it answers the ones it
can from its caches and hands everything else to Django unchanged
(``reading/studies/dicomweb/fastpath.py`` says why and what that costs). QIDO-RS
searches, rendered images and metadata meet ``ReadFastPath`` next: it runs their
views without the middleware chain when the answer is a success (``fastread.py``).

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

# What requests import lazily, imported now so that it is frozen with the rest.
from django.urls import get_resolver  # noqa: E402

import reading.studies.dicomweb.render  # noqa: E402, F401

get_resolver().url_patterns  # noqa: B018 - imports every view module
gc.collect()
gc.freeze()
