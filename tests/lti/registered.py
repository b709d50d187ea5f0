"""A test LMS (tests/lti/platform.py) registered in Metis and reachable through ``lti.tool.http_session``: what
the LTI tests and the platform-storage browser tests both start from."""

from __future__ import annotations

import requests

from lti import tool as lti_tool
from lti.models import Deployment, Platform
from lti.services import tool_key_current
from tests.factories import ItemFactory, OrganisationFactory, SectionFactory, SkillFactory
from tests.lti.platform import BASE, PlatformAdapter, TestPlatform
from tutor.models import Section


def register_test_platform(monkeypatch) -> tuple[TestPlatform, Platform, Section]:
    """The test platform, its registration (one deployment) in a new organisation, and a class there with an item;
    Metis's HTTP calls to the platform are answered in-process, and the tool has a signing key."""
    platform = TestPlatform()

    def http_session() -> requests.Session:
        session = requests.Session()
        session.mount(BASE, PlatformAdapter(platform))
        return session

    monkeypatch.setattr(lti_tool, "http_session", http_session)
    organisation = OrganisationFactory()
    section = SectionFactory(organisation=organisation, name="Maths 7B")
    ItemFactory(skill=SkillFactory(course=section.course))
    registration = Platform.objects.create(
        organisation=organisation,
        name="Test LMS",
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_login_url,
        auth_token_url=platform.auth_token_url,
        key_set_url=platform.key_set_url,
    )
    Deployment.objects.create(platform=registration, deployment_id=platform.deployment_id)
    tool_key_current()
    return platform, registration, section
