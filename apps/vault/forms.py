from datetime import timedelta

from django import forms
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.connectors.models import Connection
from apps.projects.models import Environment, Project
from apps.vault.models import KeyStatus, Vendor, VendorKey
from apps.vault.services import EDIT_FIELDS, MAX_OVERLAP_HOURS, search_keys

# The secret is never rendered back into a page: a form re-shown after an error
# asks for it again rather than echo it.
SECRET_WIDGET = forms.PasswordInput(attrs={"autocomplete": "off"})
OVERLAP_CHOICES = [
    ("0", "None: retire the old secret now"),
    ("1", "1 hour"),
    ("24", "1 day"),
    ("168", "7 days"),
    ("custom", "A number of hours"),
]
AGE_CHOICES = [
    ("", "Any age"),
    ("30", "Older than 30 days"),
    ("90", "Older than 90 days"),
    ("180", "Older than 180 days"),
]


class ModelListField(forms.CharField):
    """Model names, one per line or separated by commas; empty means any model."""

    widget = forms.Textarea(attrs={"rows": 2})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        names = (name.strip() for name in text.replace(",", "\n").splitlines())
        return list(dict.fromkeys(name for name in names if name))


class KeyScopeForm(forms.ModelForm):
    """The fields an admin sets on a key, at registration and when editing it."""

    allowed_models = ModelListField(
        required=False,
        label="Allowed models",
        help_text="One per line or comma-separated. Empty: any model the policy "
        "allows.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        # TIME_ZONE is UTC, so the zone-less datetime-local value is read as UTC.
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = VendorKey
        fields = list(EDIT_FIELDS)
        labels = {"vendor_key_id": "Vendor key id", "monthly_cap_usd": "Monthly cap"}
        help_texts = {
            "monthly_cap_usd": "USD. Empty: no cap.",
            "connection": "The vendor organization that holds the key. Through it "
            "Keyhold can revoke the key at the vendor, or create its replacement.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        connections = self.fields["connection"]
        connections.empty_label = "None"
        connections.label_from_instance = _connection_label
        if self.instance.pk:
            connections.queryset = Connection.objects.filter(
                vendor=self.instance.vendor
            )
        self.fields["project"].queryset = Project.objects.filter(archived_at=None)
        self.fields["environment"].queryset = Environment.objects.filter(
            archived_at=None, project__archived_at=None
        ).select_related("project")
        self.fields["owner"].queryset = User.objects.filter(is_active=True)


class KeyRegisterForm(KeyScopeForm):
    vendor = forms.ChoiceField(choices=Vendor.choices)
    secret = forms.CharField(
        widget=SECRET_WIDGET,
        strip=True,
        help_text="Paste the key as the vendor showed it. It is shown once after "
        "registration, then only to admins who confirm their password.",
    )

    field_order = ["vendor", "name", "secret"]


class RotateForm(forms.Form):
    """Paste the replacement, or, where the vendor's API can, have Keyhold create it.

    ``vendor`` is the vendor's name when Keyhold can create the key there; without
    it the form offers pasting only.
    """

    create_at_vendor = forms.BooleanField(required=False)
    vendor_project_id = forms.CharField(
        required=False,
        max_length=200,
        label="Vendor project",
        widget=forms.TextInput(attrs={"list": "vendor-projects"}),
    )
    secret = forms.CharField(
        required=False,
        label="New secret",
        widget=SECRET_WIDGET,
        help_text="The replacement key.",
    )
    vendor_key_id = forms.CharField(
        required=False, max_length=200, label="Vendor key id of the new secret"
    )
    overlap = forms.ChoiceField(
        choices=OVERLAP_CHOICES,
        initial="24",
        label="Overlap",
        help_text="How long the old secret stays valid, so deployments can switch.",
    )
    overlap_hours = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_OVERLAP_HOURS,
        label="Hours (for a number of hours)",
    )

    def __init__(self, *args, vendor=None, known_project="", **kwargs):
        super().__init__(*args, **kwargs)
        if vendor is None:
            del self.fields["create_at_vendor"], self.fields["vendor_project_id"]
            return
        self.fields["create_at_vendor"].label = f"Create the new key at {vendor}"
        self.fields["create_at_vendor"].help_text = (
            "Instead of pasting a secret: Keyhold shows the new key once, after "
            "the rotation."
        )
        self.fields["vendor_project_id"].initial = known_project
        self.fields[
            "vendor_project_id"
        ].help_text = "Where to create it; empty: the current key's project."
        self.fields[
            "secret"
        ].help_text = "The replacement key, when you created it yourself."

    def clean(self):
        data = super().clean()
        if data.get("overlap") == "custom":
            if data.get("overlap_hours") is None:
                self.add_error("overlap_hours", "Give the overlap in hours.")
        elif data.get("overlap") is not None:
            data["overlap_hours"] = int(data["overlap"])
        if data.get("create_at_vendor"):
            for name in ("secret", "vendor_key_id"):
                if data.get(name):
                    self.add_error(
                        name, "Leave this empty: the vendor makes the new key."
                    )
        elif not data.get("secret"):
            self.add_error("secret", forms.Field.default_error_messages["required"])
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit log, e.g. “leaked in a public repository”.",
    )
    at_vendor = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, vendor=None, **kwargs):
        """Offer revoking at the vendor when ``vendor``, its name, is given."""
        super().__init__(*args, **kwargs)
        if vendor is None:
            del self.fields["at_vendor"]
        else:
            self.fields["at_vendor"].label = f"Also revoke at {vendor}"


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class KeyFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    vendor = forms.ChoiceField(
        choices=[("", "All vendors"), *Vendor.choices], required=False
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="All projects"
    )
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.none(),
        required=False,
        empty_label="All environments",
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *KeyStatus.choices], required=False
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="All owners"
    )
    age = forms.ChoiceField(choices=AGE_CHOICES, required=False)

    def __init__(self, *args, teams, projects, environments, **kwargs):
        super().__init__(*args, auto_id="filter-%s", **kwargs)
        self.fields["team"].queryset = teams
        self.fields["project"].queryset = projects
        self.fields["environment"].queryset = environments
        self.fields["owner"].queryset = User.objects.filter(is_active=True)

    def apply(self, keys):
        """Narrow ``keys`` to what the valid form asks for."""
        data = self.cleaned_data
        exact = {
            "vendor": data["vendor"],
            "project__team": data["team"],
            "project": data["project"],
            "environment": data["environment"],
            "status": data["status"],
            "owner": data["owner"],
        }
        keys = keys.filter(**{name: value for name, value in exact.items() if value})
        if data["age"]:
            cutoff = timezone.now() - timedelta(days=int(data["age"]))
            keys = keys.filter(created_at__lt=cutoff)
        if data["q"]:
            keys = search_keys(keys, data["q"].strip())
        return keys


def _connection_label(connection) -> str:
    return f"{connection.name} ({connection.get_vendor_display()})"
