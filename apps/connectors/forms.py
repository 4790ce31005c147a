from django import forms

from apps.connectors.models import Connection

ADMIN_KEY_MIN_LENGTH = 16


class ConnectionForm(forms.ModelForm):
    """Create or edit a connection; the admin key is typed, never shown back."""

    admin_key = forms.CharField(
        label="Admin key",
        min_length=ADMIN_KEY_MIN_LENGTH,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    base_url = forms.URLField(
        label="Base URL",
        required=False,
        assume_scheme="https",
        max_length=300,
        help_text="Empty: the vendor's own API. Give a proxy or simulator URL to "
        "stand in for it.",
    )

    class Meta:
        model = Connection
        fields = [
            "name",
            "vendor",
            "base_url",
            "enabled",
            "sync_interval_minutes",
            "usd_per_unit",
        ]
        labels = {"sync_interval_minutes": "Sync every (minutes)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sync_interval_minutes"].min_value = 5
        self.fields["sync_interval_minutes"].widget.attrs["min"] = 5
        if self.instance.pk:
            self.fields["admin_key"].required = False
            self.fields[
                "admin_key"
            ].help_text = f"Stored: {self.instance.admin_key_hint}. Empty: keep it."
        else:
            self.fields[
                "admin_key"
            ].help_text = (
                "An organization admin key; it is encrypted and never shown again."
            )
