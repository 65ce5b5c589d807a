"""Local stand-ins for vendor APIs, faithful enough to run the real SDKs against."""

from tests.fakes.hubspot_server import FakeHubSpot, RecordedRequest

__all__ = ["FakeHubSpot", "RecordedRequest"]
