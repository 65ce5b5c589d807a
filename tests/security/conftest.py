"""The web tests' sites (``make_site``, ``site``) for the security checks too."""

from tests.web.conftest import make_site, site, webhook_keys  # noqa: F401
