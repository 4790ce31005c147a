from django import forms

from apps.spend.report import GROUPS
from apps.vault.models import Vendor

GROUP_CHOICES = [(name, name.capitalize()) for name in GROUPS]


class IdsField(forms.CharField):
    """Ids, comma-separated, for filters set by links (keys) rather than picked."""

    widget = forms.HiddenInput

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ",".join(str(v) for v in value)
        return value


class ExplorerForm(forms.Form):
    """The explorer's controls. The query string itself is parsed by
    ``parse_spend_query``, as the API's is; this form only shows what was asked,
    errors included, with the user's own input kept."""

    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label="End (exclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    group_by = forms.ChoiceField(label="Group by", choices=GROUP_CHOICES)
    team = forms.MultipleChoiceField(required=False)
    project = forms.MultipleChoiceField(required=False)
    environment = forms.MultipleChoiceField(required=False)
    vendor = forms.MultipleChoiceField(required=False, choices=Vendor.choices)
    model = forms.CharField(
        required=False, help_text="Model names, comma-separated.", label="Models"
    )
    key = IdsField(required=False)

    def __init__(self, data, *, teams, projects, environments, initial=None):
        super().__init__(data, initial=initial)
        self.fields["team"].choices = [(t.pk, t.name) for t in teams]
        self.fields["project"].choices = [(p.pk, p.name) for p in projects]
        self.fields["environment"].choices = [
            (e.pk, f"{e.project.name} / {e.kind}") for e in environments
        ]

    def show_errors(self, errors: dict) -> None:
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)
