from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from lti.models import ResourceLink
from lti.services import RosterSyncFailed, resource_links_for_roster, roster_sync
from lti.tool import LaunchRefused


class Command(BaseCommand):
    help = "Names and Role Provisioning: bring each LTI placement's course roster into its Metis class."

    def add_arguments(self, parser):
        parser.add_argument("--link", type=int, help="Only this resource link (id)")
        parser.add_argument("--platform", type=int, help="Only placements of this platform (id)")

    def handle(self, *args, link: int | None, platform: int | None, **options):
        if link is not None:
            if not ResourceLink.objects.filter(pk=link).exists():
                raise CommandError(f"--link: no resource link {link}")
            ids = [link]
        else:
            ids = resource_links_for_roster(platform_id=platform)
        for n, pk in enumerate(ids, 1):
            try:
                result = roster_sync(resource_link_id=pk)
            except LaunchRefused as exc:
                raise CommandError(f"resource link {pk}: {exc.message}") from None
            except RosterSyncFailed as exc:
                raise CommandError(f"resource link {pk}: {exc}") from None
            self.stdout.write(
                f"[{n}/{len(ids)}] resource link {pk}: {result.students} students, {result.teachers} teachers, "
                f"{result.skipped} skipped"
            )
