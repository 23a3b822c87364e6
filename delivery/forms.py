"""The operators' form for a cluster: the kubeconfig is write-only, like a registry password."""

from __future__ import annotations

from django import forms

from .errors import parse_kubeconfig
from .models import Cluster


class ClusterForm(forms.ModelForm):
    kubeconfig = forms.CharField(
        label="Kubeconfig",
        required=False,
        strip=False,
        # Never rendered back: a Textarea would show the stored credentials.
        widget=forms.Textarea(attrs={"rows": 8, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Paste the kubeconfig. It is stored encrypted and never shown again; leave "
        "it empty to keep the stored one.",
    )

    class Meta:
        model = Cluster
        fields = ["name", "connection", "is_default"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["kubeconfig"] = ""

    def clean_kubeconfig(self) -> str | None:
        text = self.cleaned_data["kubeconfig"]
        if not text.strip():
            return None
        try:
            parse_kubeconfig(text)
        except ValueError as error:
            raise forms.ValidationError(f"This kubeconfig is not usable: {error}.") from None
        return text

    def clean(self):
        cleaned = super().clean()
        connection = cleaned.get("connection")
        stored = self.instance.pk and self.instance.connection == Cluster.Connection.KUBECONFIG
        if (
            connection == Cluster.Connection.KUBECONFIG
            and cleaned.get("kubeconfig") is None
            and not stored
            and "kubeconfig" not in self.errors
        ):
            self.add_error("kubeconfig", "A kubeconfig connection needs the kubeconfig.")
        return cleaned
