from django import forms
from django.contrib.auth.forms import AuthenticationForm

from reading.accounts.models import Role


class LoginForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autofocus": True, "autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class CreateUserForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+$", max_length=150)
    display_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESIDENT)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)


class ResetPasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
