from django import forms
from django.apps import apps

from apps.audit.models import AuditEvent


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "username or “system”"}),
    )
    action = forms.CharField(
        required=False,
        label="Action starts with",
        widget=forms.TextInput(attrs={"placeholder": "e.g. user."}),
    )
    target_type = forms.ChoiceField(required=False, label="Target type")
    date_from = forms.DateField(
        required=False,
        label="From (UTC)",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        required=False,
        label="To (UTC)",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    ip = forms.GenericIPAddressField(required=False, label="IP address")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["target_type"].choices = [
            ("", "Any target"),
            *((name, name) for name in _target_types()),
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "“To” is before “From”: swap the two dates.")
        return data


def _target_types() -> list[str]:
    """Name every Keyhold model an event can point at, without asking the database."""
    return sorted(
        model._meta.model_name
        for model in apps.get_models()
        if model.__module__.startswith("apps.") and model is not AuditEvent
    )
