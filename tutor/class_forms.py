"""Forms of the class management pages and the class overview's filters: they check the shape of the input
(each error names its field); the services in ``tutor.class_services`` check what it means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from .class_services import ROSTER_MAX_BYTES
from .models import Course, Organisation, Section, Skill, User

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


class SectionCreateForm(forms.Form):
    name = forms.CharField(label="Class name", max_length=200)
    course = forms.ModelChoiceField(label="Course", queryset=Course.objects.order_by("title"), empty_label=None)
    organisation = forms.ModelChoiceField(
        label="School (organisation)", queryset=Organisation.objects.order_by("name"), required=False
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user
        if not (user.is_superuser and user.organisation_id is None):
            del self.fields["organisation"]  # a teacher's or admin's classes are in their own organisation
        else:
            self.fields["organisation"].required = True

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the class a name.")
        return name


class StudentAddForm(forms.Form):
    username = forms.CharField(label="Username (what the student logs in with)", max_length=150)
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.EmailField(label="Email (optional)", required=False)


class RosterForm(forms.Form):
    roster = forms.FileField(
        label="Roster (CSV file)",
        error_messages={
            "required": "Nothing was saved. Choose a CSV file to upload.",
            "empty": "Nothing was saved. The file is empty: its first line must name the columns "
            "(username,first_name,last_name,email).",
        },
    )

    def clean_roster(self) -> bytes:
        upload = self.cleaned_data["roster"]
        if upload.size > ROSTER_MAX_BYTES:
            raise forms.ValidationError(f"Nothing was saved. The file is larger than {ROSTER_MAX_BYTES // 1024} KB.")
        data: bytes = upload.read()
        return data


class MoveForm(forms.Form):
    target = forms.ModelChoiceField(label="Move to", queryset=Section.objects.none(), empty_label=None)

    def __init__(self, *args: object, targets: list[Section], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["target"].queryset = Section.objects.filter(pk__in=[t.pk for t in targets]).order_by("name")  # type: ignore[attr-defined]
        self.fields["target"].error_messages["invalid_choice"] = "Choose one of your other classes."


@dataclass(frozen=True)
class OverviewFilters:
    skill: Skill | None = None
    start: date | None = None
    end: date | None = None  # inclusive

    @property
    def active(self) -> bool:
        return self.skill is not None or self.start is not None or self.end is not None

    def kwargs(self) -> dict:
        """The filters as ``dashboard_selectors.class_overview_for_section`` takes them."""
        return {"skill_id": self.skill.pk if self.skill else None, "start": self.start_at, "end": self.end_before}

    @property
    def start_at(self) -> datetime | None:
        return timezone.make_aware(datetime.combine(self.start, time.min)) if self.start else None

    @property
    def end_before(self) -> datetime | None:
        """The first moment after the end day (the range is [start_at, end_before))."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min)) if self.end else None


class OverviewFilterForm(forms.Form):
    """The class overview's filters, from the query string (GET), so a filtered page can be bookmarked."""

    skill = forms.ModelChoiceField(
        label="Skill", queryset=Skill.objects.none(), required=False, empty_label="All skills"
    )
    start = forms.DateField(label="From (day)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (day, included)", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, section: Section, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["skill"].queryset = Skill.objects.filter(course_id=section.course_id).order_by("position", "slug")  # type: ignore[attr-defined]
        self.fields["skill"].error_messages["invalid_choice"] = "Choose a skill of this class's course."
        for name in ("start", "end"):
            self.fields[name].error_messages["invalid"] = "Enter a day as YYYY-MM-DD, for example 2025-09-01."

    def _day(self, name: str) -> date | None:
        day: date | None = self.cleaned_data.get(name)
        if day is not None and not EARLIEST <= day <= LATEST:
            raise forms.ValidationError(f"Enter a day between {EARLIEST.isoformat()} and {LATEST.isoformat()}.")
        return day

    def clean_start(self) -> date | None:
        return self._day("start")

    def clean_end(self) -> date | None:
        return self._day("end")

    def clean(self) -> dict:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end day is before the start day.")
        return data

    def filters(self) -> OverviewFilters:
        data = self.cleaned_data
        return OverviewFilters(skill=data.get("skill"), start=data.get("start"), end=data.get("end"))
