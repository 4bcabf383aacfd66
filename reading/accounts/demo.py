"""Demo users for a fresh install; printed by seed_demo."""

from reading.accounts.models import Role, User

DEMO_PASSWORD = "reading-room"
DEMO_USERS = [
    # username, display name, role, staff
    ("attending", "Dr. Ada Attending", Role.ATTENDING, False),
    ("resident", "Dr. Rui Resident", Role.RESIDENT, False),
    ("resident2", "Dr. Rosa Resident", Role.RESIDENT, False),
    ("admin", "Alex Admin", Role.ADMIN, True),
]


def ensure_demo_users() -> list[tuple[str, str, str]]:
    created = []
    for username, display, role, staff in DEMO_USERS:
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "display_name": display,
                "role": role,
                "is_staff": staff,
                "is_superuser": staff,
            },
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        created.append((username, DEMO_PASSWORD, user.get_role_display()))
    return created
