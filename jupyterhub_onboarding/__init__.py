"""Onboarding for JupyterHub: first value, monthly active users and the admin landing page."""

__version__ = "0.1.0"
