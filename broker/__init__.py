"""The MultiTeam broker service (Flask)."""

__all__: list[str] = []
