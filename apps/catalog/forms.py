from django import forms

from apps.catalog.models import PriceOverride
from apps.catalog.services import OVERRIDE_FIELDS
from apps.projects.models import Tier
from apps.vault.models import Vendor


class PriceOverrideForm(forms.ModelForm):
    class Meta:
        model = PriceOverride
        fields = list(OVERRIDE_FIELDS)
        labels = {
            "input_per_mtok": "Input $/MTok",
            "cached_input_per_mtok": "Cached input $/MTok",
            "cache_write_per_mtok": "Cache write $/MTok",
            "output_per_mtok": "Output $/MTok",
        }
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"})}


class TierForm(forms.Form):
    vendor = forms.ChoiceField(choices=Vendor.choices)
    model = forms.CharField(max_length=200)
    tier = forms.ChoiceField(choices=Tier.choices)


class ModelFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    vendor = forms.ChoiceField(
        choices=[("", "All vendors"), *Vendor.choices], required=False
    )

    def __init__(self, *args, **kwargs):
        # Its own ids: the page also holds the override form, with its own "vendor".
        super().__init__(*args, auto_id="filter-%s", **kwargs)
