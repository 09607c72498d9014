"""The web pages of the broker: server-rendered (Flask and Jinja2), Dutch with English
available, logged in through the broker's own OAuth 2.0 (authorization code with PKCE).

- `session`: login, callback, logout, the person of each request, CSRF;
- `cases`: the case worker's pages (my cases, the purpose, the case view, a new signal);
- `coordinator`: the coordinator's pages (triage queue, track, case director, closing);
- `team`: the case team's pages (plan of approach, history) and each person's notifications;
- `officer`: the privacy officer's pages (audit explorer, chain, anomalies, access report,
  convenant matrix and diff);
- `blueprint`: what every page shares — the navigation per role, security headers, refusals.

Pages for another role go in a module of their own that registers its routes on `web`, its
menu items with `register_nav` and its start page with `register_home`, and is imported here.
"""

from __future__ import annotations

from flask import Flask

from . import cases, coordinator, dashboard, officer, session, team
from .blueprint import NavItem, nav_for, register_home, register_nav, web

__all__ = ["NavItem", "init_app", "nav_for", "register_home", "register_nav", "web"]

_MODULES = (cases, coordinator, dashboard, officer, team)  # imported for their routes


def init_app(app: Flask) -> None:
    """Register the pages."""
    session.init_app(app)
    app.register_blueprint(web)
