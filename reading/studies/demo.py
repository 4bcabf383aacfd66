"""Synthetic demo studies."""


def seed_demo_studies(stdout=None) -> None:
    return None
