"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne).

WADO-RS frame requests (and rendered images of one instance or frame) meet
``FramesFastPath`` first: it answers the ones it can from its caches and hands
everything else to Django unchanged (``reading/studies/dicomweb/fastpath.py`` says
why and what that costs). QIDO-RS searches, the rendered images
it left, thumbnails and metadata meet ``ReadFastPath`` next: it runs their
views without the middleware chain when the answer is a success (``fastread.py``).

The process's own settings (freed memory kept, the SQLite database held open,
startup objects frozen out of the collector's reach) are ``reading.serving``'s.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reading.settings")
django.setup(set_prefix=False)

from reading.handler import HandedBodyASGIHandler  # noqa: E402

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


# Last, once everything is built: what this process keeps (reading/serving.py).
from reading import serving  # noqa: E402

serving.keep_freed_memory()
sqlite_holder = serving.hold_sqlite_open()
serving.freeze_startup_objects()
