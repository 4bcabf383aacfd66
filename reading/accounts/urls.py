from django.urls import path

from reading.accounts import views

app_name = "accounts"
urlpatterns = [
    path("token/", views.api_token, name="token"),
    path("activity/", views.activity, name="activity"),
]
