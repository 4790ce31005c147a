from django import forms


class BillingExportForm(forms.Form):
    file = forms.FileField(
        label="Billing export (CSV)",
        help_text=(
            "The standard usage cost table of the billing account that pays for "
            "Gemini, exported from BigQuery as CSV with its header row. Its Gemini "
            "API and Vertex AI lines become spend per project, model and day; "
            "uploading an export again replaces the days and projects it covers. "
            "Spend is attributed to keys by Cloud project: register one Google key "
            "per project, with the project id as its vendor key id."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
