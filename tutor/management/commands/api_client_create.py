from django.core.management.base import BaseCommand, CommandError

from tutor.models import Organisation
from tutor.services import PracticeError, api_client_create


class Command(BaseCommand):
    help = "Create an API client for an organisation and print its token (shown this once; only a hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--name", required=True, help="the integration's name, unique in the organisation")
        parser.add_argument("--scopes", default="read", help="comma-separated: read, write (default: read)")

    def handle(self, *args, org: str, name: str, scopes: str, **options):
        organisation = Organisation.objects.filter(slug=org).first()
        if organisation is None:
            known = ", ".join(Organisation.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no organisation {org!r} (organisations: {known})")
        try:
            client, token = api_client_create(
                organisation=organisation, name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()]
            )
        except PracticeError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(
            f"created API client {client.name!r} ({client.key_id}) for {organisation.slug}, "
            f"scopes {','.join(client.scopes)}; the token below is shown once, store it now:"
        )
        self.stdout.write(token)
