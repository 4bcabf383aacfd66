"""Reading Room settings.

Everything is read from the environment with the embedded default when unset:
SQLite + files on disk + Huey on SQLite + in-memory channel layer. Setting
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` switches to the scale-out setup.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from reading.env import env_bool, env_int, env_list, env_path, env_str
from reading.secret import load_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATA_DIR = env_path("DATA_DIR", BASE_DIR / "data")
STORAGE_DIR = env_path("STORAGE_DIR", DATA_DIR / "storage")
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Production mode refuses to start without a secret key given to it (reading/secret.py).
PRODUCTION = env_bool("PRODUCTION", False)
SECRET_KEY = load_secret_key(DATA_DIR, production=PRODUCTION)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "huey.contrib.djhuey",
    "axes",
    "reading.accounts",
    "reading.studies",
    "reading.audit",
    "reading.ai",
    "reading.worklist",
    "reading.annotations",
    "reading.reading_sessions",
    "reading.reports",
    "reading.dictation",
    "reading.viewer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before login: a CORS preflight carries no credentials (only under /dicomweb/).
    "reading.studies.dicomweb.cors.DicomwebCors",
    # Outside the session and CSRF middleware, so it sees the cookies they set.
    "reading.accounts.middleware.SecureCookies",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "reading.accounts.middleware.IdleTimeout",
    "reading.accounts.middleware.LoginRequiredEverywhere",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "reading.audit.middleware.AuditReads",
    "reading.audit.middleware.NoStore",
    "csp.middleware.CSPMiddleware",
    # Last: django-axes answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reading.urls"
ASGI_APPLICATION = "reading.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reading.accounts.context_processors.idle_timeout",
            ],
        },
    },
]


def _database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must be postgresql://..., got {parsed.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        # Daphne runs each request's sync code on its own thread: persistent
        # connections would stay open on finished threads.
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
    }


DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": _database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_path("SQLITE_PATH", DATA_DIR / "reading.sqlite3"),
            "OPTIONS": {
                # WAL lets readers proceed while the ingest writes; the busy
                # timeout makes concurrent writers wait instead of failing.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses locked-out attempts before a password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: after AXES_FAILURE_LIMIT failures, an account and an address are each
# locked for AXES_COOLOFF_MINUTES (per account, and per address whatever the account).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "reading.audit.services.client_ip"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# Automatic logoff after inactivity (seconds); the pages count it down too.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 15 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60)  # a shift, not two weeks
# WebSocket messages (reading/sockets.py): a larger text (UTF-8 bytes) or binary message is
# refused with a "too_large" error event (the report's Yjs socket closes 1009). Daphne's
# --websocket-max-message-size (Makefile, deploy/) is set to the binary limit: beyond it the
# server itself closes the connection with 1009.
WEBSOCKET_MAX_TEXT_BYTES = env_int("WEBSOCKET_MAX_TEXT_BYTES", 64 * 1024)
WEBSOCKET_MAX_BINARY_BYTES = env_int("WEBSOCKET_MAX_BINARY_BYTES", 1024 * 1024)
# Threads per Daphne process for the sockets' database calls (reading.realtime): the
# report editors' writes wait on their report's row lock, so they have a pool of their own.
SOCKET_DB_THREADS = {
    "sockets": env_int("SOCKET_DB_THREADS", 8),
    "reports": env_int("REPORT_DB_THREADS", 4),
}
# API tokens (DICOMweb and JSON APIs only) expire after this many days.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)
# Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from the finders too
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MIMETYPES = {".wasm": "application/wasm", ".mjs": "text/javascript"}
# The viewer bundle's chunks, workers and codecs carry a content hash in their names
# (frontend/vite.config.js): cached for ever. Entries keep stable names, re-checked.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/static/viewer/assets/.+-[A-Za-z0-9_-]{8}\.[a-z]+$"

REDIS_URL = env_str("REDIS_URL")
# With Redis: "pubsub" (default) publishes each group message once and Redis pushes it
# to the processes whose sockets joined the group; "queue" (channels_redis's list-based
# layer) costs ~8 round trips per message and more than doubled the session broadcast
# p99 (docs/benchmarks.md), but holds messages for a consumer that is not listening
# (30 s) and hands each message of a named channel to one of several receivers.
CHANNEL_LAYER = env_str("CHANNEL_LAYER", "pubsub")
if REDIS_URL and CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis waits for messages with a 5 s blocking pop, and redis-py 8's
            # default socket timeout is also 5 s: an idle consumer would die with a read
            # timeout (WebSocket closed 1011). The socket timeout must exceed the pop.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    # The same per-channel capacity as with Redis (the in-memory default is 100): a
    # session consumer busy with a write must not lose a burst of group events.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1500}}
    }

HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "reading-room",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("HUEY_WORKERS", 2), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "reading-room",
        "filename": str(env_path("HUEY_SQLITE_PATH", DATA_DIR / "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("HUEY_WORKERS", 1), "worker_type": "thread"},
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "reading.accounts.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}

# DICOM ingest limits and the C-STORE listener.
DICOM_MAX_INSTANCE_BYTES = env_int("DICOM_MAX_INSTANCE_BYTES", 1024 * 1024 * 1024)
DICOM_MAX_UPLOAD_BYTES = env_int("DICOM_MAX_UPLOAD_BYTES", 4 * 1024 * 1024 * 1024)
DICOM_MAX_ZIP_MEMBERS = env_int("DICOM_MAX_ZIP_MEMBERS", 20000)
DICOM_MAX_ZIP_RATIO = env_int("DICOM_MAX_ZIP_RATIO", 200)
DICOM_AE_TITLE = env_str("DICOM_AE_TITLE", "READINGROOM")
DICOM_PORT = env_int("DICOM_PORT", 11112)
# Address the DICOM listener binds: loopback unless a deployment opens it to its network.
DICOM_HOST = env_str("DICOM_HOST", "127.0.0.1")
# Peers that may store, query and retrieve: "AE" or "AE@host" entries, comma-separated.
# Empty (the embedded default) accepts any calling AE title: say so in production.
DICOM_ALLOWED_PEERS = env_list("DICOM_ALLOWED_PEERS", [])
# C-MOVE destinations: "AE=host:port" entries, comma-separated (PS3.4 C.4.2).
DICOM_MOVE_DESTINATIONS = env_list("DICOM_MOVE_DESTINATIONS", [])
# WADO-RS frames: the most distinct frames one request may name (400 beyond).
DICOMWEB_MAX_FRAMES = env_int("DICOMWEB_MAX_FRAMES", 2048)
# CORS for DICOMweb (reading/studies/dicomweb/cors.py): origins allowed to call it from a
# browser with a token ("*" for any); empty (the default) sends no CORS headers at all.
DICOMWEB_CORS_ORIGINS = env_list("DICOMWEB_CORS_ORIGINS", [])
# Public URL of the DICOMweb root for absolute RetrieveURL/BulkDataURI values, when the
# Host header cannot be trusted to carry it (some clients drop the port); else from the request.
DICOMWEB_ROOT_URL = env_str("DICOMWEB_ROOT_URL", "").rstrip("/")
# WADO-RS frames fast path (reading/studies/dicomweb/fastpath.py; rendered images of one
# instance or frame too, fastrender.py): how long a credential's access decision is reused.
# A deactivated or logged-out user keeps frame access that long; 0 sends every frame and
# rendered request through Django.
DICOMWEB_FAST_FRAMES_TTL = env_int("DICOMWEB_FAST_FRAMES_TTL", 5)
# QIDO-RS, rendered, thumbnail and metadata reads ahead of the middleware chain, on threads that keep
# their database connection (reading/studies/dicomweb/fastread.py); nothing is cached there.
DICOMWEB_FAST_READS = env_bool("DICOMWEB_FAST_READS", True)
# Encoded /rendered and thumbnail images kept per process, in bytes (dicomweb/rendercache.py);
# access and audit are still checked on every request. 0 keeps none.
RENDERED_CACHE_BYTES = env_int("RENDERED_CACHE_BYTES", 64 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 1000)
# Request bodies are refused with 413 before they are read (reading/edge.py): uploads
# (STOW-RS, the upload page) from a request with credentials may be this large...
REQUEST_MAX_UPLOAD_BYTES = env_int("REQUEST_MAX_UPLOAD_BYTES", DICOM_MAX_UPLOAD_BYTES)
# ...every other request body this large.
REQUEST_MAX_BODY_BYTES = env_int("REQUEST_MAX_BODY_BYTES", 16 * 1024 * 1024)

# Models: a hub id or a local directory. Absent weights are a visible state, not a crash.
MEDGEMMA_MODEL = env_str("MEDGEMMA_MODEL", "")
MEDASR_MODEL = env_str("MEDASR_MODEL", "")
INFERENCE_DEVICE = env_str("INFERENCE_DEVICE", "auto")
# Dictation (docs/realtime.md "Dictation socket"): fp32 is the reference; int8 dynamic
# quantisation is faster on CPU but reported to cost accuracy (README, docs/benchmarks.md).
MEDASR_PRECISION = env_str("MEDASR_PRECISION", "fp32")
# embedded: transcription runs in a bounded pool inside each web process; external: web
# processes hold no model and send audio over the Redis channel layer to
# `python manage.py dictation_worker`.
DICTATION_WORKER = env_str("DICTATION_WORKER", "embedded")
# Concurrent transcription batches; 0: one per core, each with one torch thread (two
# one-thread batches beat one two-thread batch on short inputs and on a busy machine).
DICTATION_WORKERS = env_int("DICTATION_WORKERS", 0)
# external with several workers: worker k (`dictation_worker --shard k`) gets the streams
# whose crc32(stream id) % N is k, so each stream stays whole on one worker.
DICTATION_WORKER_SHARDS = env_int("DICTATION_WORKER_SHARDS", 1)
DICTATION_AUDIO_RETENTION_DAYS = env_int("DICTATION_AUDIO_RETENTION_DAYS", 0)  # 0: keep
# AI jobs: a running job renews its lease; a worker silent for a whole lease is presumed
# dead and its job requeued. Analyses started by a worklist rule wait for the study's
# remaining instances to arrive.
AI_JOB_LEASE_S = env_int("AI_JOB_LEASE_S", 120)
AI_AUTO_DELAY_S = env_int("AI_AUTO_DELAY_S", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts are warnings; every login is not news
    },
}

# Served over TLS: Secure cookies always (they are also made Secure on any request that came
# over TLS), HSTS, and plain HTTP redirected. Behind a proxy that ends TLS, set
# TLS_PROXY_HEADER (e.g. HTTP_X_FORWARDED_PROTO) to the header it sets to "https".
TLS = env_bool("TLS", False)
TLS_PROXY_HEADER = env_str("TLS_PROXY_HEADER", "")
if TLS_PROXY_HEADER:
    SECURE_PROXY_SSL_HEADER = (TLS_PROXY_HEADER, "https")
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 60 * 60)  # sent on TLS requests only
SECURE_SSL_REDIRECT = TLS
SESSION_COOKIE_SECURE = TLS
CSRF_COOKIE_SECURE = TLS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy (django-csp): what the viewer needs and nothing more. The WebAssembly
# codecs need 'wasm-unsafe-eval'; the decode workers and AudioWorklet modules come from 'self'
# or blob: URLs; Cornerstone draws into canvases and reads images from blob:/data: URLs.
CONTENT_SECURITY_POLICY = {
    # DICOMweb answers are data, not documents (and the frames fast path must match Django).
    "EXCLUDE_URL_PREFIXES": ["/dicomweb/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        "worker-src": ["'self'", "blob:"],
        "img-src": ["'self'", "blob:", "data:"],
        "media-src": ["'self'", "blob:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
