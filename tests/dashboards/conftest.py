"""The browser and dashboard server fixtures of test_dashboards_browser, for every test module here."""

from tests.dashboards.test_dashboards_browser import browser, server  # noqa: F401 - fixtures
