"""A department admin sees a user's API tokens and revokes one (issue 11)."""

from __future__ import annotations

import pytest

from reading.accounts.models import ApiToken
from reading.accounts.services import create_api_token

pytestmark = pytest.mark.browser


def test_admin_revokes_a_users_token_with_confirmation(login_page, admin_user, attending, shot):
    issued = create_api_token(attending, name="Slicer laptop")
    create_api_token(attending, name="OHIF workstation")
    page = login_page(admin_user, "/manage/")
    assert "2 usable" in page.inner_text(f"tr[data-username={attending.username}]")
    shot(page, "manage-users-tokens-column")
    page.click(f"a[aria-label='API tokens of {attending.username}']")
    page.wait_for_selector("#tokens")
    row = page.locator(f"#tokens tr[data-token='{issued.token.pk}']")
    assert "Slicer laptop" in row.inner_text() and "usable" in row.inner_text()
    assert issued.key[:8] not in page.content()

    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))  # cancelled: nothing changes
    row.locator("button", has_text="Revoke").click()
    assert questions and "Slicer laptop" in questions[0]
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None

    page.once("dialog", lambda d: answer(d, True))
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector(f"#tokens tr[data-token='{issued.token.pk}'].inactive")
    assert "revoked" in row.locator(".state").inner_text()
    assert row.locator("button").count() == 0
    assert "Revoked Slicer laptop" in page.inner_text(".messages")
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
    assert ApiToken.objects.filter(user=attending, revoked_at__isnull=True).count() == 1
    shot(page, "manage-user-tokens")
