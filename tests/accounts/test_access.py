"""The two role checks every view, service and consumer asks (reading.accounts.access)."""

import pytest
from django.contrib.auth.models import AnonymousUser

from reading.accounts.access import is_clinical, is_department_admin


@pytest.mark.django_db
def test_readers_are_clinical_and_not_admins(attending, resident):
    for user in (attending, resident):
        assert is_clinical(user)
        assert not is_department_admin(user)


@pytest.mark.django_db
def test_admin_runs_the_department_and_reads_no_images(admin_user):
    assert is_department_admin(admin_user)
    assert not is_clinical(admin_user)


@pytest.mark.django_db
def test_outsider_anonymous_and_nobody_pass_neither(outsider):
    for user in (outsider, AnonymousUser(), None):
        assert not is_clinical(user)
        assert not is_department_admin(user)


@pytest.mark.django_db
def test_deactivated_users_lose_both(attending, admin_user):
    for user in (attending, admin_user):
        user.is_active = False
    assert not is_clinical(attending)
    assert not is_department_admin(admin_user)


@pytest.mark.django_db
def test_superuser_counts_as_department_admin(outsider):
    outsider.is_superuser = True
    assert is_department_admin(outsider)
    assert not is_clinical(outsider)
