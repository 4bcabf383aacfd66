from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reading import health
from reading.accounts import views as accounts_views
from reading.accounts.forms import LoginForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", authentication_form=LoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", accounts_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("reading.accounts.urls")),
    path("admin/", admin.site.urls),
    path("audit/", include("reading.audit.urls")),
    path("dicomweb/", include("reading.studies.dicomweb.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("reading.annotations.urls")),
    path("", include("reading.reports.urls")),
    path("", include("reading.reports.urls_pages")),
    path("", include("reading.ai.urls")),
    path("", include("reading.reading_sessions.urls")),
    path("", include("reading.dictation.urls")),
    path("api/worklist/", include("reading.worklist.api_urls")),
    path("manage/", include("reading.accounts.urls_manage")),
    path("", include("reading.worklist.urls")),
    path("", include("reading.viewer.urls")),
    path("", include("reading.studies.urls")),
]

handler400 = "reading.accounts.views.bad_request"
handler403 = "reading.accounts.views.permission_denied"
